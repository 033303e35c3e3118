package kmodpack.image;

/**
 * One stream of an image (FORMAT.md, Streams): its own codec and block size, and a run of
 * consecutive blocks in the block table. A version 1 image has one, "data".
 */
public record StreamInfo(String name, Codec codec, int blockSize, long rawLength, int firstBlock, int blockCount) {

    /** The block that holds stream byte {@code pos}, as an index into the block table. */
    public int blockAt(long pos) {
        return firstBlock + (int) (pos / blockSize);
    }

    /** The raw length of this stream's {@code k}-th block: the block size, or less for the last. */
    public int rawLengthOf(int k) {
        return (int) Math.min(blockSize, rawLength - (long) k * blockSize);
    }
}
