"""The engine's behaviour patches: virtual time, flow accounting, in-process Lambda, the DynamoDB stream.
Each module is one patch (see ../patch.py); ../registry.py lists them in install order."""
