"""Binary answers: record images are small valid PNGs, a document's download is exactly what was uploaded,
an invoice's PDF is a PDF."""

from __future__ import annotations

import io
import struct
import zlib

from cwsim.simulator.connectwise.binary import pdf, png

from .conftest import Api


def assert_valid_png(data: bytes) -> tuple[int, int]:
    """Walks every chunk, checks each CRC and inflates the pixels: a PNG any decoder takes."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    at, kinds, pixels = 8, [], b""
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        (crc,) = struct.unpack(">I", data[at + 8 + length : at + 12 + length])
        assert zlib.crc32(kind + body) & 0xFFFFFFFF == crc, kind
        kinds.append(kind)
        pixels += body if kind == b"IDAT" else b""
        at += 12 + length
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND"
    width, height = struct.unpack(">II", data[16:24])
    assert len(zlib.decompress(pixels)) == height * (1 + 3 * width)
    return width, height


def test_the_png_checker_catches_a_broken_image() -> None:
    """Negative control: one flipped byte in the pixels fails the CRC check."""
    good = bytearray(png("x"))
    good[40] ^= 0xFF
    try:
        assert_valid_png(bytes(good))
    except AssertionError:
        return
    raise AssertionError("a corrupted PNG passed the check")


def test_record_images_are_small_valid_pngs(api: Api) -> None:
    for path in ("company/contacts/1/image", "system/members/1/image", "service/priorities/1/image"):
        answer = api.get(path)
        assert answer.status_code == 200 and answer.mimetype == "image/png", path
        assert assert_valid_png(answer.data) == (16, 16)
    assert api.get("company/contacts/1/image").data == api.get("company/contacts/1/image").data
    assert api.get("company/contacts/99999/image").status_code == 404


def test_an_uploaded_menu_entry_image_is_what_its_image_answers(api: Api) -> None:
    from cwsim.simulator.connectwise.examples import create_example

    backend = api.world.backend
    entry = create_example(backend, backend.collection("system/menuentries"), "Menu", {})
    uploaded = png("uploaded", 4)
    answer = api.post(
        f"system/menuentries/{entry['id']}/image",
        data={"file": (io.BytesIO(uploaded), "logo.png", "image/png")},
        content_type="multipart/form-data",
    )
    assert answer.status_code in (200, 201), answer.data
    assert api.get(f"system/menuentries/{entry['id']}/image").data == uploaded


def test_a_documents_download_returns_exactly_the_bytes_uploaded(api: Api) -> None:
    content = bytes(range(256)) * 40 + b"\r\n\x00end"
    form = {
        "file": (io.BytesIO(content), "report.bin", "application/octet-stream"),
        "recordType": "Ticket",
        "recordId": "1",
        "title": "Report",
    }
    answer = api.post("system/documents", data=form, content_type="multipart/form-data")
    assert answer.status_code in (200, 201), answer.get_json()
    document = answer.get_json()
    assert document["title"] == "Report" and document["fileName"] == "report.bin" and document["size"] == len(content)
    download = api.get(f"system/documents/{document['id']}/download")
    assert download.status_code == 200 and download.data == content
    assert "report.bin" in download.headers["Content-Disposition"]
    thumbnail = api.get(f"system/documents/{document['id']}/thumbnail")
    assert thumbnail.mimetype == "image/png" and assert_valid_png(thumbnail.data)
    assert api.get("system/documents/99999/download").status_code == 404


def test_an_invoice_pdf_is_a_pdf_naming_the_invoice(api: Api) -> None:
    invoice = api.get("finance/invoices").get_json()[0]
    answer = api.get(f"finance/invoices/{invoice['id']}/pdf")
    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    data = answer.data
    assert data.startswith(b"%PDF-1.") and data.rstrip().endswith(b"%%EOF")
    xref = int(data.rsplit(b"startxref", 1)[1].split()[0])
    assert data[xref : xref + 4] == b"xref"
    number = str(invoice.get("invoiceNumber") or invoice["id"]).encode()
    assert number in data


def test_the_pdf_offsets_point_at_their_objects() -> None:
    data = pdf(["Invoice 7"])
    xref = int(data.rsplit(b"startxref", 1)[1].split()[0])
    rows = data[xref:].split(b"\n")[3:8]
    for number, row in enumerate(rows, start=1):
        offset = int(row.split()[0])
        assert data[offset:].startswith(b"%d 0 obj" % number)
