"""``file://`` blob store rooted at a directory; atomic writes via rename.

Confinement without a ``realpath`` per access: a URI is normalised lexically (``..`` folded, no file system
look-ups) and must name a path below the store root, which is resolved once. Symbolic links are the store's I/O's
own concern: every read, write, size and existence check opens the object (or its directory) and asks the kernel
where the open file really is (``/proc/self/fd``), refusing anything outside the root, so a link anywhere on the
path that leaves the store is refused as ``resolve`` refused it, and the check cannot be raced (it is about the
file actually opened). ``path`` (for callers that open files themselves) and the keys of signed URLs still
resolve and check.
"""

from __future__ import annotations

import asyncio
import os
import stat
import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlparse

from aloft_storage.base import BlobNotFound, BlobStore
from aloft_storage.signing import UrlSigner

# Blobs smaller than this are read and written on the event loop: a round trip through a worker thread costs
# milliseconds on a busy machine (GIL hand-offs), far more than the I/O of a small file.
_INLINE_BYTES = 256 * 1024
_PROC_FD = Path("/proc/self/fd")
_MISSING = (FileNotFoundError, IsADirectoryError, NotADirectoryError)
_URI_SPECIAL = "?#%"  # a query, a fragment or an escape: the URI is parsed in full


class LocalBlobStore(BlobStore):
    scheme = "file"

    def __init__(self, root: Path, container: str, signer: UrlSigner | None, default_expiry: timedelta) -> None:
        self.root = root.resolve()
        self.container_path = self.root / container
        self.container_path.mkdir(parents=True, exist_ok=True)
        self._base_uri = self.container_path.as_uri()  # every uri() joins onto it: made once
        self._root = str(self.root)
        self._root_slash = self._root.rstrip("/") + "/"
        self._fd_paths = _PROC_FD.is_dir()
        self._signer = signer
        self._default_expiry = default_expiry

    @property
    def base_uri(self) -> str:
        return self._base_uri

    # --- confinement --------------------------------------------------------------------------------------------

    def lexical_path(self, uri: str) -> str:
        """The local path a ``file://`` URI (or plain absolute path) names, normalised without touching the file
        system; ValueError when it is not below the store root."""
        if uri.startswith("file:///") and not any(c in uri for c in _URI_SPECIAL):
            raw = uri[7:]  # what urlparse + unquote make of it, without their cost (every blob operation pays it)
        else:
            raw = unquote(urlparse(uri).path) if uri.startswith("file://") else uri
        if not raw.startswith("/"):
            raise ValueError(f"{uri} is outside the blob store root {self.root}")
        path = os.path.normpath(raw)
        if path.startswith("//"):
            path = path[1:]  # POSIX keeps a leading double slash; it names the same directory
        if not self._below_root(path):
            raise ValueError(f"{uri} is outside the blob store root {self.root}")
        return path

    def path(self, uri: str) -> Path:
        """Local path of a ``file://`` URI (or a plain absolute path), confined to the store root with symbolic
        links resolved: for callers that open the file themselves."""
        lexical = self.lexical_path(uri)
        path = Path(self._realpath(lexical))
        if not self._below_root(str(path)):
            raise ValueError(f"{uri} is outside the blob store root {self.root}")
        return path

    def _realpath(self, lexical: str) -> str:
        """``os.path.realpath`` of a normalised absolute path in a few system calls: the kernel's location of the
        deepest existing ancestor (opened, every link on the way followed) plus the missing rest. realpath itself
        makes one lstat per component (about a dozen for a node's log), each a GIL hand-off on a busy loop."""
        if not self._fd_paths:
            return os.path.realpath(lexical)
        missing: list[str] = []
        current = lexical
        while True:
            try:
                # Not following the last component: a missing name fails at once (no lstat to tell it from a
                # dangling link), and a link there, dangling or not, is left to realpath.
                fd = os.open(current, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
            except FileNotFoundError:  # the name is missing, or a link on the way dangles (found further up)
                parent = os.path.dirname(current)
                if parent == current:
                    return os.path.realpath(lexical)
                missing.append(os.path.basename(current))
                current = parent
                continue
            except OSError:  # a file on the way (ENOTDIR), a loop, no permission: realpath's own answer
                return os.path.realpath(lexical)
            try:
                if stat.S_ISLNK(os.fstat(fd).st_mode):
                    return os.path.realpath(lexical)
                where = os.readlink(f"/proc/self/fd/{fd}")
            finally:
                os.close(fd)
            return os.path.join(where, *reversed(missing))

    def _below_root(self, path: str) -> bool:
        return path == self._root or path.startswith(self._root_slash)

    def _check_open(self, fd: int, uri: str) -> None:
        """Refuse an open file that lies outside the root (reached through a symbolic link)."""
        # Without /proc the file system is asked instead (racy, as resolve was).
        where = os.readlink(f"/proc/self/fd/{fd}") if self._fd_paths else os.path.realpath(self.lexical_path(uri))
        if not self._below_root(where):
            os.close(fd)
            raise ValueError(f"{uri} is outside the blob store root {self.root}")

    def _open(self, uri: str, flags: int) -> int:
        fd = os.open(self.lexical_path(uri), flags | os.O_CLOEXEC)
        self._check_open(fd, uri)
        return fd

    def _open_dir(self, directory: str, uri: str, create: bool) -> int:
        """A checked descriptor of ``directory``; missing directories are made one at a time below a checked
        parent, never through a symbolic link."""
        try:
            fd = os.open(directory, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            if not create or not self._below_root(os.path.dirname(directory)):
                raise
            parent = self._open_dir(os.path.dirname(directory), uri, create)
            try:
                name = os.path.basename(directory)
                try:
                    os.mkdir(name, dir_fd=parent)
                except FileExistsError:
                    pass
                fd = os.open(name, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
            finally:
                os.close(parent)
        self._check_open(fd, uri)
        return fd

    # --- keys ---------------------------------------------------------------------------------------------------

    # Keys name what a signed URL serves and what admin checks against its served prefixes: resolved, so a link
    # inside the store cannot carry a key from one prefix into another (one realpath per signature, as before).

    def key(self, uri: str) -> str:
        real = self._realpath(self.lexical_path(uri))  # path(uri) relative to the root, in string operations
        if real == self._root:
            return "."
        if not real.startswith(self._root_slash):
            raise ValueError(f"{uri} is outside the blob store root {self.root}")
        return real[len(self._root_slash) :]

    def uri_for_key(self, key: str) -> str:
        return self.path(str(self.root / key)).as_uri()

    def owns(self, uri: str) -> bool:
        return uri.startswith("file://") or uri.startswith("/")

    def container_key(self, uri: str) -> str | None:
        try:
            path = self.path(uri)
        except ValueError:
            return None
        if self.container_path not in path.parents:
            return None
        return path.relative_to(self.container_path).as_posix()

    # --- objects ------------------------------------------------------------------------------------------------

    def _open_blob(self, uri: str) -> int:
        try:
            return self._open(uri, os.O_RDONLY)
        except _MISSING as exc:
            raise BlobNotFound(uri) from exc

    def _read_sync(self, uri: str, fd: int | None = None) -> bytes:
        fd = self._open_blob(uri) if fd is None else fd
        try:
            with os.fdopen(fd, "rb", closefd=False) as handle:
                return handle.read()
        except IsADirectoryError as exc:
            raise BlobNotFound(uri) from exc
        finally:
            os.close(fd)

    async def read(self, uri: str) -> bytes:
        fd = self._open_blob(uri)
        try:
            small = os.fstat(fd).st_size < _INLINE_BYTES
        except BaseException:
            os.close(fd)
            raise
        if small:
            return self._read_sync(uri, fd)  # a thread hop costs more than reading a small file
        return await asyncio.to_thread(self._read_sync, uri, fd)

    def _write_sync(self, uri: str, data: bytes, keep_existing: bool = False) -> None:
        path = self.lexical_path(uri)
        directory, name = os.path.split(path)
        parent = self._open_dir(directory, uri, create=True)
        try:
            tmp = f".tmp-{uuid.uuid4().hex}"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600, dir_fd=parent)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                if keep_existing:  # a link never replaces: an object already there stays
                    try:
                        os.link(tmp, name, src_dir_fd=parent, dst_dir_fd=parent, follow_symlinks=False)
                    except FileExistsError:
                        pass
                    os.unlink(tmp, dir_fd=parent)
                else:
                    os.replace(tmp, name, src_dir_fd=parent, dst_dir_fd=parent)
            except BaseException:
                try:
                    os.unlink(tmp, dir_fd=parent)
                except FileNotFoundError:
                    pass
                raise
        finally:
            os.close(parent)

    async def write(self, uri: str, data: bytes) -> None:
        if len(data) < _INLINE_BYTES:
            self._write_sync(uri, data)
        else:
            await asyncio.to_thread(self._write_sync, uri, data)

    def _write_new_sync(self, uri: str, data: bytes) -> None:
        """Straight into the final name, created exclusively: no temporary file and rename. A reader could see
        the object half-written, but ``write_new``'s callers let no one read it before this returns; a crash
        meanwhile leaves an incomplete file under a key nothing refers to (as ``_write_sync`` leaves its
        temporary file), and a failed write removes what it wrote."""
        directory, name = os.path.split(self.lexical_path(uri))
        parent = self._open_dir(directory, uri, create=True)
        try:
            # O_EXCL: an existing name (a symbolic link too) is refused, never followed or truncated.
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600, dir_fd=parent)
            try:
                try:
                    _write_all(fd, data)
                finally:
                    os.close(fd)
            except BaseException:  # a failed write (or close) leaves nothing behind
                os.unlink(name, dir_fd=parent)
                raise
        finally:
            os.close(parent)

    async def write_new(self, uri: str, data: bytes) -> None:
        if len(data) < _INLINE_BYTES:
            self._write_new_sync(uri, data)
        else:
            await asyncio.to_thread(self._write_new_sync, uri, data)

    writes_now = True

    def write_now(self, uri: str, data: bytes, *, keep_existing: bool = False) -> None:
        self._write_sync(uri, data, keep_existing)

    def link_file(self, path: str, uri: str) -> bool:
        """A hard link at ``uri`` (confined as a write is) to ``path``; True when the object is that file."""
        directory, name = os.path.split(self.lexical_path(uri))
        parent = self._open_dir(directory, uri, create=True)
        try:
            os.link(path, name, dst_dir_fd=parent, follow_symlinks=False)
            return True
        except FileExistsError:
            return _same_file(path, name, parent)  # linked before (a restarted caller), or another object
        except OSError:
            return False  # another file system (EXDEV), hard links refused (EPERM), ...
        finally:
            os.close(parent)

    def _stat(self, uri: str) -> os.stat_result | None:
        try:
            fd = self._open(uri, os.O_PATH)
        except _MISSING:
            return None
        try:
            return os.fstat(fd)
        finally:
            os.close(fd)

    async def exists(self, uri: str) -> bool:
        found = self._stat(uri)
        return found is not None and stat.S_ISREG(found.st_mode)

    async def size(self, uri: str) -> int:
        found = self._stat(uri)
        if found is None:
            raise BlobNotFound(uri)
        return found.st_size

    async def delete(self, uri: str) -> None:
        directory, name = os.path.split(self.lexical_path(uri))
        try:
            parent = self._open_dir(directory, uri, create=False)
        except _MISSING:
            return
        try:
            os.unlink(name, dir_fd=parent)
        except FileNotFoundError:
            pass
        finally:
            os.close(parent)

    async def list(self, prefix_uri: str) -> list[str]:
        base = self.path(prefix_uri)
        if base.is_file():
            return [base.as_uri()]
        if not base.is_dir():
            return []
        return sorted(p.as_uri() for p in base.rglob("*") if p.is_file() and not p.name.startswith(".tmp-"))

    def signed_url(
        self, uri: str, method: str = "GET", expires_in: timedelta | None = None, content_md5: str = ""
    ) -> str:
        if self._signer is None:
            raise RuntimeError("this local blob store has no URL signer configured")
        expiry = (expires_in or self._default_expiry).total_seconds()
        return self._signer.sign(self.key(uri), method, expiry, content_md5)


def _write_all(fd: int, data: bytes) -> None:
    """``data`` written to ``fd`` whole (a plain descriptor: no file object to build for one write)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _same_file(path: str, name: str, dir_fd: int) -> bool:
    try:
        ours, theirs = os.stat(path, follow_symlinks=False), os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError:
        return False
    return (ours.st_dev, ours.st_ino) == (theirs.st_dev, theirs.st_ino)
