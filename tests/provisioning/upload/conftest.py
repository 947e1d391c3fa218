import io

import pytest
from openpyxl import load_workbook


@pytest.fixture
def upload_file(login, school_a):
    """POST a file to +Upload Users as `account`; returns the response."""

    def _post(account, data: bytes, name: str = "users.xlsx"):
        client = login(account)
        handle = io.BytesIO(data)
        handle.name = name
        return client.post(f"/s/{school_a.slug}/users/upload/", {"file": handle})

    return _post


def read_xlsx(data: bytes, sheet: str | None = None) -> list[tuple]:
    workbook = load_workbook(io.BytesIO(data))
    ws = workbook[sheet] if sheet else workbook.worksheets[0]
    return [tuple(row) for row in ws.iter_rows(values_only=True)]
