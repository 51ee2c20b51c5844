import Glibc

/// Changes the owner of a directory tree through descriptors, never following a link, so
/// that a tree a task filled cannot redirect a chown run as root to another file.
enum OwnershipTree {
    /// Gives the open directory `descriptor` (closed here) and everything under it to
    /// `uid`:`gid`, the directory itself with mode 0700; the first failure, or nil.
    static func give(_ descriptor: Int32, to uid: UInt32, gid: UInt32) -> String? {
        if let failure = owner(descriptor, uid, gid) {
            close(descriptor)
            return failure
        }
        return giveContents(descriptor, to: uid, gid: gid)
    }

    /// Gives only the open directory `descriptor` (closed here) to `uid`:`gid`, with mode 0700.
    static func giveOnly(_ descriptor: Int32, to uid: UInt32, gid: UInt32) -> String? {
        defer { close(descriptor) }
        return owner(descriptor, uid, gid)
    }

    private static func owner(_ descriptor: Int32, _ uid: UInt32, _ gid: UInt32) -> String? {
        guard fchown(descriptor, uid, gid) == 0, fchmod(descriptor, 0o700) == 0 else { return String(cString: strerror(errno)) }
        return nil
    }

    /// Everything in the directory `descriptor` (closed here), depth first.
    private static func giveContents(_ descriptor: Int32, to uid: UInt32, gid: UInt32) -> String? {
        guard let directory = fdopendir(descriptor) else {
            let failure = String(cString: strerror(errno))
            close(descriptor)
            return failure
        }
        defer { closedir(directory) }
        let parent = dirfd(directory)
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.baseAddress!.assumingMemoryBound(to: CChar.self)) }
            if name == "." || name == ".." { continue }
            var info = stat()
            guard fstatat(parent, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { return "\(name): \(String(cString: strerror(errno)))" }
            if info.st_mode & S_IFMT == S_IFDIR {
                let child = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                guard child >= 0, fchown(child, uid, gid) == 0 else {
                    let failure = "\(name): \(String(cString: strerror(errno)))"
                    if child >= 0 { close(child) }
                    return failure
                }
                if let failure = giveContents(child, to: uid, gid: gid) { return "\(name)/\(failure)" }
            } else if fchownat(parent, name, uid, gid, AT_SYMLINK_NOFOLLOW) != 0 {
                return "\(name): \(String(cString: strerror(errno)))"
            }
        }
        return nil
    }
}
