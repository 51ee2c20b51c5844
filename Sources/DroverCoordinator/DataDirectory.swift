import DroverAPI
import Foundation

/// The coordinator's `--data` directory, checked before anything is opened in it: a
/// directory it cannot write (a read-only mount, wrong owner) is refused at start with a
/// message, not found seconds later by a failed write.
enum DataDirectory {
    /// Creates `path` if missing and proves it writable: a probe file is written, synced and removed.
    static func prepare(_ path: String) throws(ConfigurationError) {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw ConfigurationError("cannot create the data directory \(path): \(error.localizedDescription); give --data a directory this user can write")
        }
        let probe = URL(fileURLWithPath: path).appendingPathComponent(".write-probe-\(getpid())").path
        let fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw notWritable(path, errno) }
        defer { unlink(probe) }
        let written = write(fd, "probe", 5)
        let failure = written == 5 ? (fsync(fd) == 0 ? 0 : errno) : (written < 0 ? errno : ENOSPC)
        close(fd)
        if failure != 0 { throw notWritable(path, failure) }
    }

    private static func notWritable(_ path: String, _ code: Int32) -> ConfigurationError {
        ConfigurationError("the data directory \(path) is not writable (\(String(cString: strerror(code)))); "
                           + "give --data a directory this user can write, or fix its permissions, mount or free space")
    }

}
