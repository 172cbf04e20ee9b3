"""Consumer contracts: what each integration relies on from its provider (contracts/<provider>/).

`model` is the contract file's shape, `load` finds and reads contracts and cassettes, `drift`
compares one response with an operation, `verify_offline` proves contracts against the published
spec and the recorded cassettes, `record` writes scrubbed vcrpy cassettes with provenance.
"""

from monitor.contracts.load import contracts_dirs, find_contract, load_cassette, load_contract
from monitor.contracts.model import Contract, ContractOperation

__all__ = [
    "Contract",
    "ContractOperation",
    "contracts_dirs",
    "find_contract",
    "load_cassette",
    "load_contract",
]
