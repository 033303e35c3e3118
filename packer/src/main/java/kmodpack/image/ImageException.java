package kmodpack.image;

import java.io.IOException;

/** An image that is not one, is damaged, or does not hold what was asked for. The message is one line for users. */
public class ImageException extends IOException {
    public ImageException(String message) {
        super(message);
    }

    public ImageException(String message, Throwable cause) {
        super(message, cause);
    }
}
