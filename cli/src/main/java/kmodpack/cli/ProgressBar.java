package kmodpack.cli;

import java.io.PrintStream;

/** A one-line progress bar on stderr, drawn only when stderr is a terminal. */
final class ProgressBar {
    private final PrintStream out = System.err;
    private final String label;
    private final boolean enabled;
    private int lastPercent = -1;

    ProgressBar(String label) {
        this.label = label;
        // System.console() is non-null only when both stdin and stdout are a terminal; that is
        // the interactive case worth drawing for. Pipes and CI logs stay clean.
        this.enabled = System.console() != null;
    }

    void update(long done, long total) {
        if (!enabled || total <= 0) {
            return;
        }
        int percent = (int) (done * 100 / total);
        if (percent == lastPercent) {
            return;
        }
        lastPercent = percent;
        int width = 30;
        int fill = percent * width / 100;
        out.print("\r" + label + " [" + "#".repeat(fill) + " ".repeat(width - fill) + "] " + percent + "%");
        out.flush();
    }

    void finish() {
        if (enabled && lastPercent >= 0) {
            out.print("\r" + " ".repeat(label.length() + 40) + "\r");
            out.flush();
        }
    }
}
