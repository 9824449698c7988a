"""Binary answers: record images (a small valid PNG, or the one uploaded), document uploads and downloads
(exactly the bytes uploaded), an invoice's PDF."""

from __future__ import annotations

import base64
import hashlib
import struct
import zlib
from typing import Any

from flask import Response, request

from .actions import Action, ActionCall, Answer
from .errors import FieldProblem, invalid_object

DOCUMENTS = "system/documents"
CONTENT = "_contentBase64"  # the uploaded bytes, kept on the record (state files stay JSON)
CONTENT_TYPE = "_contentType"
IMAGE_SIDE = 16


def png(seed: str, side: int = IMAGE_SIDE) -> bytes:
    """A small, valid, opaque PNG in one colour drawn from `seed` (the same record, the same image)."""
    red, green, blue = hashlib.sha256(seed.encode()).digest()[:3]
    row = b"\x00" + bytes((red, green, blue)) * side  # filter byte 0, then RGB pixels
    raw = row * side

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def pdf(lines: list[str]) -> bytes:
    """A one-page PDF showing `lines` (plain ASCII), with a correct cross-reference table."""
    text = "BT /F1 12 Tf 72 720 Td 16 TL " + " ".join(f"({_pdf_escape(line)}) '" for line in lines) + " ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(text), text.encode("latin-1")),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _pdf_escape(line: str) -> str:
    ascii_only = line.encode("ascii", "replace").decode()
    return ascii_only.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _bytes_answer(data: bytes, content_type: str, filename: str | None = None) -> Response:
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'} if filename else None
    return Response(data, 200, headers=headers, content_type=content_type)


def _stored(record: dict[str, Any]) -> tuple[bytes, str] | None:
    if record.get(CONTENT) is None:
        return None
    return base64.b64decode(record[CONTENT]), record.get(CONTENT_TYPE) or "application/octet-stream"


def image_of(table: str) -> Any:
    """`GET .../{id}/image`: the image uploaded for the record, else a small PNG of its own."""

    def answer(call: ActionCall) -> Answer:
        backend = call.backend
        record = backend.get(backend.collection(table), call.id(), None, call.principal)
        stored = _stored(record)
        if stored is not None:
            return _bytes_answer(*stored), 200
        return _bytes_answer(png(f"{table}/{record['id']}"), "image/png"), 200

    return answer


def _upload() -> tuple[bytes, str, str | None, dict[str, str]]:
    """The uploaded file of a multipart form (or the raw body): bytes, content type, file name, form fields."""
    upload = next(iter(request.files.values()), None) if request.files else None
    if upload is not None:
        return upload.read(), upload.mimetype or "application/octet-stream", upload.filename, dict(request.form)
    return request.get_data(), request.mimetype or "application/octet-stream", None, dict(request.form)


def upload_image(table: str) -> Any:
    """`POST .../{id}/image`: the uploaded image is what `GET .../{id}/image` answers from now on."""

    def answer(call: ActionCall) -> Answer:
        backend = call.backend
        data, content_type, _, _ = _upload()
        if not data:
            raise invalid_object("image", [FieldProblem("file", "Upload the image as the file of a multipart form.")])
        with backend.store.lock:
            record = backend.get(backend.collection(table), call.id(), None, call.principal)
            encoded = base64.b64encode(data).decode()
            backend.store.replace(table, {**record, CONTENT: encoded, CONTENT_TYPE: content_type})
        return Response(b"", 200), 200

    return answer


def upload_document(call: ActionCall) -> Answer:
    """`POST /system/documents`, multipart as ConnectWise takes it (file, recordType, recordId, title); a JSON
    body is created as any record is."""
    backend = call.backend
    collection = backend.collection(DOCUMENTS)
    if not request.mimetype.startswith("multipart/"):
        record = backend.create(collection, call.read_json(), call.principal)
        return call.render(DOCUMENTS, record), None
    data, content_type, filename, form = _upload()
    if not request.files:
        raise invalid_object("document", [FieldProblem("file", "The form must carry the document as its file.")])
    name = filename or form.get("title") or "document"
    body: dict[str, Any] = {
        "title": (form.get("title") or name)[:100],
        "fileName": name,
        "size": len(data),
        "imageFlag": content_type.startswith("image/"),
        "publicFlag": form.get("isPublic", form.get("publicFlag", "")).casefold() == "true",
    }
    with backend.store.lock:
        record = backend.create(collection, body, call.principal)
        encoded = base64.b64encode(data).decode()
        record = backend.store.replace(
            DOCUMENTS,
            {
                **record,
                CONTENT: encoded,
                CONTENT_TYPE: content_type,
                "_recordType": form.get("recordType"),
                "_recordId": form.get("recordId"),
            },
        )
    return call.render(DOCUMENTS, record), None


def download_document(call: ActionCall) -> Answer:
    """`GET /system/documents/{id}/download`: exactly the bytes uploaded."""
    backend = call.backend
    record = backend.get(backend.collection(DOCUMENTS), call.id(), None, call.principal)
    data, content_type = _stored(record) or (b"", "application/octet-stream")
    return _bytes_answer(data, content_type, record.get("fileName") or f"document-{record['id']}"), 200


def document_thumbnail(call: ActionCall) -> Answer:
    """`GET /system/documents/{id}/thumbnail`: a small PNG standing for the document."""
    backend = call.backend
    record = backend.get(backend.collection(DOCUMENTS), call.id(), None, call.principal)
    return _bytes_answer(png(f"{DOCUMENTS}/{record['id']}", 8), "image/png"), 200


def invoice_pdf(call: ActionCall) -> Answer:
    """`GET /finance/invoices/{id}/pdf`: a one-page PDF naming the invoice, its company and total."""
    backend = call.backend
    record = backend.get(backend.collection("finance/invoices"), call.id(), None, call.principal)
    company = backend.store.get("company/companies", record.get("company")) if record.get("company") else None
    lines = [
        f"Invoice {record.get('invoiceNumber') or record['id']}",
        f"Company: {(company or {}).get('name', '')}",
        f"Total: {record.get('total', '')}",
    ]
    return _bytes_answer(pdf(lines), "application/pdf", f"invoice-{record['id']}.pdf"), 200


BINARY_ACTIONS: list[Action] = [
    Action("GET", "/company/contacts/{id}/image", image_of("company/contacts"), "company/contacts"),
    Action("GET", "/system/members/{id}/image", image_of("system/members"), "system/members"),
    Action("GET", "/service/priorities/{id}/image", image_of("service/priorities"), "service/priorities"),
    Action("GET", "/system/menuentries/{id}/image", image_of("system/menuentries"), "system/menuentries"),
    Action(
        "POST",
        "/system/menuentries/{id}/image",
        upload_image("system/menuentries"),
        "system/menuentries",
        raw_body=True,
    ),
    Action("POST", "/system/documents", upload_document, DOCUMENTS, raw_body=True),
    Action("GET", "/system/documents/{id}/download", download_document, DOCUMENTS),
    Action("GET", "/system/documents/{id}/thumbnail", document_thumbnail, DOCUMENTS),
    Action("GET", "/finance/invoices/{id}/pdf", invoice_pdf, "finance/invoices"),
]
