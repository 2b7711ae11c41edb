/**
 * The Python side of a push, run on the instance by the extract script when it has python3 (every
 * ai-toolkit image does): it lists what an interrupted push of the job left in the partial folder,
 * then extracts the tar stream and verifies it against the manifest in the same pass — each file
 * hashed (OpenSSL's sha256, via hashlib) as its bytes arrive, so nothing is read twice. Files up to
 * 4 MiB are created and written by two writer threads while the reading thread parses on: creating
 * a file is the extractor's largest cost, and a single thread would make the stream wait for each
 * one (this is what puts a push of many small files at the speed of `tar | ssh`: the README's
 * Performance section). Without python3 the script falls back to `tar -x` followed by `sha256sum -c`.
 *
 * Protocol on stdout: one `present <sha256> <size> <name>` line per regular file already in the
 * partial folder, then `ready`; the sender decides from those lines which files to leave out. Exit
 * codes: 0 verified; 6 Python is older than 3.6 (nothing read); 3 the stream ended early (no manifest, or cut mid-entry); 4 a file differs
 * from the manifest; 5 the disk is full; anything else is an unexpected failure.
 *
 * Only what our own packer produces is accepted: ustar headers (with pax `path`/`size` records or
 * GNU long names), regular files and folders, names without empty, `.` or `..` segments.
 * Everything is bytes (names are never decoded), so any name the packer allows round-trips.
 */

/**
 * Files up to this size are read whole and handed to the extractor's writer threads; larger ones
 * are written by the reading thread as they stream in. Memory is bounded by 11 of these (8 queued,
 * 2 being written, 1 being read): at most 44 MiB.
 */
export const WHOLE_FILE_MAX_BYTES = 4 * 1024 * 1024;

/** The extractor's Python is older than 3.6: it exits before reading its input, and the tar fallback runs. */
export const EXIT_OLD_PYTHON = 6;

// Kept in a string: it is sent as an argument of the remote command, never as a file.
export const REMOTE_VERIFY_PY = String.raw`import errno, hashlib, os, signal, stat, sys, threading
# Too old (os.readv and friends): exit before reading a byte, and the shell falls back to tar. The
# rest of this script must stay parseable by any Python 3 (no f-strings), or this line never runs.
if sys.version_info < (3, 6):
    sys.exit(${EXIT_OLD_PYTHON})
# A dropped connection hangs up on the command; the bytes already in the pipe are still worth
# keeping for the next push, and stdin's end stops this process anyway.
signal.signal(signal.SIGHUP, signal.SIG_IGN)
EXIT_MISSING, EXIT_MISMATCH, EXIT_NO_SPACE = 3, 4, 5
dest = os.fsencode(sys.argv[1])
manifest_name = os.fsencode(sys.argv[2])
marker_name = os.fsencode(sys.argv[3])
compression = sys.argv[4]
out = sys.stdout.buffer
BUF = 1 << 20
WHOLE_MAX = ${WHOLE_FILE_MAX_BYTES}
WRITER_THREADS = 2
buf = bytearray(BUF)
view = memoryview(buf)
ZERO = bytes(512)
# The file being written: removed when the stream ends inside it, so a resumed push never sees it.
current = None


def fail(code, message):
    if code == EXIT_MISSING:
        # Files read whole before the cut are complete: let the writers finish them, for the next
        # push to reuse. (Any other failure removes the partial folder.)
        writers.stop()
        # A writer that hit a full disk is the reason to report, not the cut that came after.
        if writers.disk_full():
            code, message = EXIT_NO_SPACE, "the instance's disk is full: %s" % writers.errors[0]
    if current is not None:
        try:
            os.unlink(current)
        except OSError:
            pass
    try:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()
    except OSError:
        pass  # the connection (and stderr with it) may be gone: the exit code still says why
    os._exit(code)


def hash_file(path):
    h = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        while True:
            n = os.readv(fd, [view])
            if not n:
                return h.hexdigest()
            h.update(view[:n])
    finally:
        os.close(fd)


present = {}
for root, dirs, files in os.walk(dest):
    for f in files:
        full = os.path.join(root, f)
        st = os.lstat(full)
        rel = os.path.relpath(full, dest)
        if not stat.S_ISREG(st.st_mode) or rel in (manifest_name, marker_name):
            continue
        digest = hash_file(full)
        present[rel] = (st.st_size, digest)
        out.write(b"present %s %d %s\n" % (digest.encode(), st.st_size, rel))
out.write(b"ready\n")
out.flush()

src = sys.stdin.buffer.raw
if compression == "gzip":
    import gzip
    src = gzip.GzipFile(fileobj=sys.stdin.buffer, mode="rb")


def read_exact(n):
    got = 0
    while got < n:
        k = src.readinto(view[got:n])
        if not k:
            fail(EXIT_MISSING, "dataset stream ended early (connection cut?)")
        got += k
    return view[:n]


def read_small(n):
    parts = []
    while n > 0:
        k = min(n, BUF)
        parts.append(bytes(read_exact(k)))
        n -= k
    return b"".join(parts)


def number(field):
    if field[0] & 0x80:
        return int.from_bytes(bytes(field[1:]), "big")
    text = bytes(field).split(b"\0", 1)[0].strip()
    try:
        return int(text, 8) if text else 0
    except ValueError:
        fail(2, "not a tar stream (bad number field %r)" % text[:20])


def checked(name):
    parts = name.split(b"/")
    if name.startswith(b"/") or b"\0" in name or any(p in (b"", b".", b"..") for p in parts):
        fail(2, "refusing tar entry %r" % name)
    return b"/".join(parts)


def write_all(fd, data):
    while len(data):
        data = data[os.write(fd, data):]


class Writers:
    """Creates and writes whole files on threads, while the reading thread hashes and parses on.

    Creating a file is the extractor's largest cost (the file system's inode allocation), and the
    reading thread would otherwise do it between reads: the stream would wait on every file. The
    file-system calls and OpenSSL's sha256 release Python's lock, so the threads overlap. Two
    writers measured best: creations in one folder take the folder's lock in turn, and more threads
    only spin on it. A name is never in two threads' hands (a repeated one waits for the queue).
    """

    def __init__(self, count):
        import queue
        self.jobs = queue.Queue(maxsize=4 * count)
        self.errors = []
        self.names = set()
        self.threads = []
        for _ in range(count):
            t = threading.Thread(target=self.run, daemon=True)
            try:
                t.start()
            except RuntimeError:
                break  # no thread to be had (a process limit): what started, or the reader, writes
            self.threads.append(t)

    def run(self):
        while True:
            job = self.jobs.get()
            try:
                if job is None:
                    return
                if not self.errors:
                    self.write(*job)
            except Exception as error:
                self.errors.append(error)
            finally:
                self.jobs.task_done()

    @staticmethod
    def write(rel, path, data, digest):
        fd = create(path)
        try:
            write_all(fd, memoryview(data))
        except BaseException:
            # A half-written file would only be listed and sent again: leave none.
            os.close(fd)
            try:
                os.unlink(path)
            except OSError:
                pass
            raise
        os.close(fd)
        got[rel] = digest

    def check(self):
        if self.errors:
            raise self.errors[0]

    def claim(self, rel):
        if rel in self.names:
            self.jobs.join()
        self.names.add(rel)

    def put(self, rel, path, data):
        job = (rel, path, data, hashlib.sha256(data).hexdigest())
        if self.threads:
            self.jobs.put(job)
        else:
            self.write(*job)

    def disk_full(self):
        return any(isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT) for e in self.errors)

    def stop(self):
        threads, self.threads = self.threads, []
        for _ in threads:
            self.jobs.put(None)
        for t in threads:
            t.join()


def create(path):
    # A file sent again replaces the old copy (O_EXCL: never written through a link).
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    try:
        return os.open(path, flags, 0o644)
    except FileExistsError:
        os.unlink(path)
        return os.open(path, flags, 0o644)


def read_whole(size):
    data = bytearray(size)
    mv = memoryview(data)
    filled = 0
    while filled < size:
        k = src.readinto(mv[filled:])
        if not k:
            fail(EXIT_MISSING, "dataset stream ended early (connection cut?)")
        filled += k
    return data


got = {}
writers = Writers(WRITER_THREADS)
folders = set()
manifest = None
next_path = None
next_size = None
try:
    while True:
        header = bytes(read_exact(512))
        if header == ZERO:
            break
        if number(header[148:156]) != sum(header[:148]) + 256 + sum(header[156:]):
            fail(2, "corrupt tar header")
        size = number(header[124:136])
        kind = header[156:157]
        name = header[:100].split(b"\0", 1)[0]
        if header[257:262] == b"ustar":
            prefix = header[345:500].split(b"\0", 1)[0]
            if prefix:
                name = prefix + b"/" + name
        if kind in (b"x", b"g", b"L"):
            data = read_small(size + (-size) % 512)[:size]
            if kind == b"L":
                next_path = data.rstrip(b"\0")
            elif kind == b"x":
                while data:
                    length = int(data.split(b" ", 1)[0])
                    key, _, value = data[:length].split(b" ", 1)[1][:-1].partition(b"=")
                    if key == b"path":
                        next_path = value
                    elif key == b"size":
                        next_size = int(value)
                    data = data[length:]
            continue
        if next_path is not None:
            name, next_path = next_path, None
        if next_size is not None:
            size, next_size = next_size, None
        # Folder entries (GNU tar) end with a slash.
        rel = checked(name[:-1] if kind == b"5" and name.endswith(b"/") else name)
        path = os.path.join(dest, rel)
        if kind == b"5":
            os.makedirs(path, exist_ok=True)
            continue
        if kind not in (b"0", b"\0", b"7"):
            fail(2, "unexpected tar entry type %r for %r" % (kind, name))
        if rel == manifest_name:
            manifest = read_small(size + (-size) % 512)[:size]
            continue
        if rel == marker_name:
            fail(2, "refusing tar entry %r" % name)
        parent = os.path.dirname(path)
        if parent not in folders:
            os.makedirs(parent, exist_ok=True)
            folders.add(parent)
        writers.check()
        writers.claim(rel)
        pad = (-size) % 512
        if size <= WHOLE_MAX:
            writers.put(rel, path, read_whole(size))
            if pad:
                read_exact(pad)
            continue
        fd = create(path)
        current = path
        h = hashlib.sha256()
        left = size
        try:
            while left:
                chunk = read_exact(min(left, BUF))
                h.update(chunk)
                write_all(fd, chunk)
                left -= len(chunk)
        finally:
            os.close(fd)
        current = None
        got[rel] = h.hexdigest()
        if pad:
            read_exact(pad)
    # The rest is the archive's zero padding: read it so the sender never writes into a closed pipe.
    while src.readinto(view):
        pass
    writers.stop()
    writers.check()
except EOFError:
    # gzip's reader: the compressed stream ended before its end marker (a cut connection).
    fail(EXIT_MISSING, "dataset stream ended early (connection cut?)")
except OSError as error:
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        fail(EXIT_NO_SPACE, "the instance's disk is full: %s" % error)
    raise

if manifest is None:
    fail(EXIT_MISSING, "dataset stream ended before its manifest")
expected = {}
for line in manifest.split(b"\n"):
    if not line:
        continue
    digest, sep, name = line.partition(b"  ")
    if not sep or len(digest) != 64:
        fail(EXIT_MISMATCH, "malformed manifest line %r" % line[:200])
    expected[name] = digest.decode()
bad = []
for name, digest in expected.items():
    actual = got.get(name)
    if actual is None and name in present:
        actual = present[name][1]
    if actual != digest:
        bad.append(name)
if bad:
    for name in bad[:20]:
        sys.stderr.write("%s: FAILED\n" % os.fsdecode(name))
    fail(EXIT_MISMATCH, "dataset manifest verification failed (%d files)" % len(bad))
# Files of an earlier version of the dataset that this one no longer has.
for name in set(present) | set(got):
    if name not in expected:
        os.unlink(os.path.join(dest, name))
try:
    with open(os.path.join(dest, manifest_name), "wb") as f:
        f.write(manifest)
    with open(os.path.join(dest, marker_name), "w") as f:
        f.write(hashlib.sha256(manifest).hexdigest() + "\n")
except OSError as error:
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        fail(EXIT_NO_SPACE, "the instance's disk is full: %s" % error)
    raise
`;
