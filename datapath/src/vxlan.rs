//! The VXLAN tunnel port (work in progress).
