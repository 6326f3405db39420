"""Blob storage shared by admin, propeller and datacatalog: ``file://`` (embedded) and ``s3://`` backends."""

from aloft_storage.base import BlobNotFound, BlobStore
from aloft_storage.config import StorageConfig
from aloft_storage.factory import create_blob_store
from aloft_storage.signing import SignedUrlError, UrlSigner

__all__ = ["BlobNotFound", "BlobStore", "SignedUrlError", "StorageConfig", "UrlSigner", "create_blob_store"]
