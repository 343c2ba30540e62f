"""Contract tests of the IAM-enforced mode's two patches (arrears_local.iam): the botocore and moto internals
they rely on, as in the versions they were written for; and that they come and go without a trace."""

from __future__ import annotations

import datetime as dt

import pytest

from arrears_local.engine import check_contract
from arrears_local.iam import RoleAuthorizer, RoleCredentials

START = dt.datetime(2026, 10, 5, 8, 0, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("patch", (RoleCredentials, RoleAuthorizer), ids=lambda p: p.NAME)
def test_what_each_iam_patch_relies_on_is_still_there_with_the_same_parameters(patch):
    check_contract(patch)


def test_the_iam_mode_leaves_botocore_and_moto_as_it_found_them():
    # Given the attributes the patches replace, before a runtime with IAM enforcement
    from botocore.credentials import Credentials, RefreshableCredentials
    from moto.core.authorization import ActionAuthenticatorMixin

    from arrears_local.runtime import LocalRuntime

    def current():
        return (vars(Credentials)["get_frozen_credentials"], vars(RefreshableCredentials)["get_frozen_credentials"],
                vars(ActionAuthenticatorMixin)["_authenticate_and_authorize_action"])

    before = current()
    # When one runs and ends
    with LocalRuntime(start=START, iam=True) as runtime:
        assert current() != before and runtime.iam.sessions
    # Then each is exactly what it was
    assert current() == before
