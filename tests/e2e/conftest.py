"""The e2e tests run the local runtime IAM-enforced by default: each function as its own role from template.yaml,
every call checked (arrears_local.iam; about a tenth slower). ARREARS_LOCAL_IAM=0 runs them without."""

import os

os.environ.setdefault("ARREARS_LOCAL_IAM", "1")
