//! DevStack's service lists (placeholder while the module is written).
