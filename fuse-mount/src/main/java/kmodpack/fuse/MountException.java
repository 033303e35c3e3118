package kmodpack.fuse;

import java.io.IOException;

/** A mount or unmount that cannot go ahead; the message is one line for users. */
public class MountException extends IOException {
    public MountException(String message) {
        super(message);
    }

    public MountException(String message, Throwable cause) {
        super(message, cause);
    }
}
