"""SES v2 mailer (adapter)."""

from __future__ import annotations

from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError

from arrears.adapters import aws
from arrears.domain.ports import DeliveryRefused

# SendEmail is not idempotent: a call botocore retried after a timeout could send the message twice. So each call
# is made once; SES's refusals (throttling, a 5xx, a rejected message) come back as DeliveryRefused, and the
# workflow's own retry sends again (arrears.domain.dunning's send protocol, docs/architecture.md).
_READ_TIMEOUT_SECONDS = 15


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
        try:
            return aws.single_attempt_client("sesv2", _READ_TIMEOUT_SECONDS).send_email(**request)["MessageId"]
        except ClientError as error:  # SES answered: it did not take the message
            raise DeliveryRefused(f"SES refused the message: {error.response['Error']['Code']}") from error
        except (EndpointConnectionError, ConnectTimeoutError) as error:  # never reached SES
            raise DeliveryRefused(f"SES could not be reached: {error}") from error
        # Any other error (a read timeout, a connection closed while waiting): SES may have sent it.
