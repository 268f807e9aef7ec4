//! AF_XDP ports (work in progress).
