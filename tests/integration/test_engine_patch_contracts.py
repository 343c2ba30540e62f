"""Contract tests of the local engine's patches: each names the moto (or botocore) internals it relies on,
as they were in the version it was written for. After an upgrade these fail first, naming the patch, the
target and that version, instead of a run failing somewhere deep inside. Offline; run with TZ=UTC."""

from __future__ import annotations

import datetime as dt
import importlib
from typing import Any

import pytest

from arrears_local.engine import PATCHES, LocalEngine, Target, check_contract
from arrears_local.engine.chaos import ChaosConfig

START = dt.datetime(2026, 10, 5, 8, 0, tzinfo=dt.timezone.utc)
_MISSING = object()


def _raw(target_name: str) -> Any:
    """The raw attribute behind "module:qualname" (vars() keeps classmethod and property wrappers)."""
    module, _, qualname = target_name.partition(":")
    owner_path, _, name = qualname.rpartition(".")
    owner = Target(module, owner_path).resolve() if owner_path else importlib.import_module(module)
    return vars(owner).get(name, _MISSING)


@pytest.mark.parametrize("patch", PATCHES, ids=lambda p: p.NAME)
def test_what_each_patch_relies_on_is_still_there_with_the_same_parameters(patch):
    # Given the installed moto and botocore, When the patch's targets are looked up
    # Then each exists and each callable takes the parameters the patch was written against
    assert patch.TARGETS, f"{patch.NAME} names no targets"
    check_contract(patch)


def test_every_attribute_a_patch_replaces_is_named_among_its_targets():
    # Given an engine with every patch and speed-up installed (chaos mode too)
    with LocalEngine(START, chaos=ChaosConfig(seed=1)) as engine:
        installed = engine.patches
        replaced = {p.NAME: p.replaced() for p in installed}
    # Then every patch was installed, and each replaced only what its TARGETS declare
    assert [type(p) for p in installed] == list(PATCHES)
    for patch in installed:
        declared = {str(t) for t in patch.TARGETS}
        assert replaced[patch.NAME], f"{patch.NAME} replaced nothing"
        assert set(replaced[patch.NAME]) <= declared, (patch.NAME, set(replaced[patch.NAME]) - declared)


def test_chaos_patches_are_off_by_default():
    # Given an engine without a chaos configuration, Then none of the chaos patches is installed
    with LocalEngine(START) as engine:
        installed = [type(p) for p in engine.patches]
    assert installed == [p for p in PATCHES if not p.CHAOS]
    assert any(p.CHAOS for p in PATCHES)


def test_each_patch_installs_and_removes_itself_on_its_own():
    with LocalEngine(START, chaos=ChaosConfig(seed=1)) as engine:
        replaced = {p.NAME: p.replaced() for p in engine.patches}
    originals = {name: _raw(name) for names in replaced.values() for name in names}  # after exit: moto's own
    with LocalEngine(START, chaos=ChaosConfig(seed=1)) as engine:
        for patch in engine.patches:
            others = {name for p in engine.patches if p is not patch for name in p.replaced()}
            ours = set(patch.replaced()) - others
            patched = {name: _raw(name) for name in ours}
            # When one patch is removed, Then its attributes are moto's again and the others stay patched
            patch.uninstall()
            assert patch.replaced() == []
            assert {name: _raw(name) for name in ours} == {name: originals[name] for name in ours}, patch.NAME
            assert all(_raw(name) is not originals[name] for name in others), patch.NAME
            # When it is installed again, Then it replaces the same attributes
            patch.install()
            assert set(patch.replaced()) >= ours
            assert all(_raw(name) is not originals[name] for name in ours), patch.NAME
            assert set(patched) == ours


def test_a_target_moto_removed_fails_naming_the_patch_the_target_and_the_version(monkeypatch):
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

    from arrears_local.engine.patches.wait_states import WaitStates

    # Given a moto in which WaitFunction._wait_interval moved away
    monkeypatch.delattr(WaitFunction, "_wait_interval")

    # When the wait-state patch's contract is checked, Then it fails with a message saying what and why
    with pytest.raises(AssertionError) as failure:
        check_contract(WaitStates)
    message = str(failure.value)
    assert "engine patch 'wait_states'" in message
    assert "wait_function:WaitFunction._wait_interval is gone" in message
    assert "written for moto 5.2.5" in message
    assert "docs/local-runtime.md" in message


def test_a_target_whose_parameters_changed_fails_naming_old_and_new_parameters(monkeypatch):
    from moto.dynamodb.models.table import Table

    from arrears_local.engine.speedups.ddb_query import PartitionQuery

    # Given a moto whose Table.query gained a parameter before index_name (the patch reads it by position)
    def query(self, hash_key, range_comparison, range_objs, limit, exclusive_start_key, scan_index_forward,
              select, projection_expressions, index_name=None, **filter_kwargs):
        raise AssertionError("not called")

    monkeypatch.setattr(Table, "query", query)

    with pytest.raises(AssertionError) as failure:
        check_contract(PartitionQuery)
    message = str(failure.value)
    assert "engine patch 'ddb_partition_query'" in message
    assert "moto.dynamodb.models.table:Table.query now takes (self, hash_key, range_comparison, " in message
    assert "select, projection_expressions, index_name, filter_kwargs)" in message
    assert "the patch expects (self, hash_key," in message
    assert "written for moto 5.2.5" in message
