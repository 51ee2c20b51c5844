import Crypto
import DroverAPI
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The file holding the key that seals secret env values: 32 random bytes, readable by the
/// coordinator's user only. `DATA/secret.key` is made on first start; a file given with
/// `--secret-key-file` (the same on every coordinator of a cluster) must exist.
enum SecretKeyFile {
    /// Where the key lives when no file is given.
    static func defaultPath(dataDirectory: String) -> String {
        URL(fileURLWithPath: dataDirectory).appendingPathComponent("secret.key").path
    }

    /// The key in `path`; with `create`, a missing file is made first. Refuses a file that is
    /// not a regular file, that group or others may read, that cannot be read, or that is not 32 bytes.
    static func load(path: String, create: Bool) throws(ConfigurationError) -> [UInt8] {
        var status = stat()
        if lstat(path, &status) != 0 {
            guard errno == ENOENT else { throw ConfigurationError("cannot examine the secret key file \(path): \(String(cString: strerror(errno)))") }
            guard create else {
                throw ConfigurationError("the secret key file \(path) does not exist: give the key file the cluster's coordinators share, "
                                         + "or make a new one with `head -c 32 /dev/urandom > \(path) && chmod 600 \(path)`")
            }
            try makeKeyFile(at: path)
            guard lstat(path, &status) == 0 else { throw ConfigurationError("cannot examine the secret key file \(path) just made: \(String(cString: strerror(errno)))") }
        }
        return try check(path: path, status: status)
    }

    /// Checks kind, mode and length, and reads the key.
    private static func check(path: String, status: stat) throws(ConfigurationError) -> [UInt8] {
        guard status.st_mode & S_IFMT == S_IFREG else {
            throw ConfigurationError("the secret key file \(path) is not a regular file: give the path of the 32-byte key file itself")
        }
        let mode = status.st_mode & 0o777
        guard mode & 0o077 == 0 else {
            throw ConfigurationError("the secret key file \(path) has mode \(String(mode, radix: 8)), so other users may read it: "
                                     + "run `chmod 600 \(path)` and start again")
        }
        let bytes: [UInt8]
        do {
            bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw ConfigurationError("cannot read the secret key file \(path) (\(error.localizedDescription)): "
                                     + "it must be readable by the user the coordinator runs as (uid \(getuid()))")
        }
        guard bytes.count == SecretSealer.keyByteCount else {
            throw ConfigurationError("the secret key file \(path) holds \(bytes.count) bytes, not the \(SecretSealer.keyByteCount) of a key: "
                                     + "restore the key file that sealed the stored secrets (a new key cannot open them)")
        }
        return bytes
    }

    /// Writes 32 random bytes to a temporary file of mode 0600 and links it into place, so
    /// no one ever sees a partial key and a key made by another start is never replaced.
    private static func makeKeyFile(at path: String) throws(ConfigurationError) {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        let temporary = path + ".\(UUID().uuidString).tmp"
        let key = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw ConfigurationError("cannot create the secret key file in \(directory): \(String(cString: strerror(errno)))") }
        defer { unlink(temporary) }
        let written = key.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        let synced = fchmod(descriptor, 0o600) == 0 && fsync(descriptor) == 0
        close(descriptor)
        guard written == key.count, synced else { throw ConfigurationError("cannot write the secret key file \(path): \(String(cString: strerror(errno)))") }
        // A key another start linked first wins: both then read the same file.
        guard link(temporary, path) == 0 || errno == EEXIST else {
            throw ConfigurationError("cannot create the secret key file \(path): \(String(cString: strerror(errno)))")
        }
        let directoryDescriptor = open(directory, O_RDONLY | O_CLOEXEC)
        if directoryDescriptor >= 0 {
            fsync(directoryDescriptor)
            close(directoryDescriptor)
        }
    }
}
