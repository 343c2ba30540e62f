"""SES v2 mailer (adapter)."""

from __future__ import annotations

from arrears.adapters import aws


class SesMailer:
    def __init__(self, configuration_set: str = "") -> None:
        self.configuration_set = configuration_set

    def send(self, raw_message: bytes, sender: str, recipients: list[str]) -> str:
        request = {
            "FromEmailAddress": sender,
            "Destination": {"ToAddresses": recipients},
            "Content": {"Raw": {"Data": raw_message}},
        }
        if self.configuration_set:
            request["ConfigurationSetName"] = self.configuration_set
        return aws.client("sesv2").send_email(**request)["MessageId"]
