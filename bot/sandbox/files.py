"""Slack's three-step file upload, in memory, for the workspace (``bot.sandbox.workspace``).

``files.getUploadURLExternal`` hands out a file id and an upload URL pointing back at whoever
serves the workspace, the bytes are posted there, then ``files.completeUploadExternal`` shares
them. Kept apart from the workspace because only the weekly chart uses it, and because the
checks that make a broken upload fail here as on Slack (never uploaded, wrong length) belong
together.
"""

from __future__ import annotations

from typing import Any

from bot.sandbox.params import maybe_json


class Uploads:
    """Files by id: ``filename``, ``length`` (announced), ``content`` (the bytes posted to the
    upload URL, None until then), ``shared`` (the complete call's other params) and ``title``."""

    def __init__(self) -> None:
        self.files: dict[str, dict[str, Any]] = {}
        self._counter = 0

    def clear(self) -> None:
        self.files.clear()

    def upload_url(self, params: dict[str, Any], base_url: str) -> dict[str, Any]:
        """Step 1: a file id and the URL (``base_url`` + id) to post its bytes to."""
        filename, length = params.get("filename"), params.get("length")
        if not filename or not str(length or "").isdigit():
            return {"ok": False, "error": "invalid_arguments"}
        self._counter += 1
        file_id = f"F{self._counter:08d}"
        self.files[file_id] = {
            "filename": str(filename),
            "length": int(str(length)),
            "content": None,
            "shared": None,
        }
        return {"ok": True, "upload_url": base_url + file_id, "file_id": file_id}

    def receive(self, file_id: str, raw: bytes) -> bool:
        """Step 2: the bytes posted to the upload URL; False for an id never handed out."""
        upload = self.files.get(file_id)
        if upload is None:
            return False
        upload["content"] = raw
        return True

    def complete(self, params: dict[str, Any]) -> dict[str, Any]:
        """Step 3: share the uploaded files; refuses files never uploaded or whose bytes do not
        match the announced length."""
        files = params.get("files")
        if isinstance(files, str):
            files = maybe_json(files)
        if not isinstance(files, list) or not files:
            return {"ok": False, "error": "invalid_arguments"}
        shared = []
        for entry in files:
            upload = self.files.get(str(entry.get("id"))) if isinstance(entry, dict) else None
            if upload is None or upload["content"] is None:
                return {"ok": False, "error": "file_not_found"}
            if len(upload["content"]) != upload["length"]:
                return {"ok": False, "error": "file_upload_size_mismatch"}
            upload["shared"] = {k: v for k, v in params.items() if k != "files"}
            upload["title"] = entry.get("title")
            shared.append({"id": entry["id"], "title": entry.get("title")})
        return {"ok": True, "files": shared}
