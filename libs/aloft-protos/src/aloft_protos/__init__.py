"""Generated code for Aloft's own protobuf APIs (see protos/). Regenerate with `make protos`."""
