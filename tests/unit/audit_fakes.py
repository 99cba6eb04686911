"""An audit log that keeps its records in memory (the API's `Api.audit` in tests without a broker)."""

from __future__ import annotations

from schemas.audit import AuditRecord
from services.api.audit import AuditUnavailable


class RecordingAudit:
    def __init__(self, available: bool = True) -> None:
        self.records: list[AuditRecord] = []
        self.available = available

    async def record(self, record: AuditRecord) -> None:
        if not self.available:
            raise AuditUnavailable("the test's broker is away")
        self.records.append(record)

    def close(self) -> None:
        pass
