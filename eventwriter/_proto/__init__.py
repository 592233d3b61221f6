"""Generated protobuf modules for eventwriter; see proto/README.md."""
