import Foundation
import Synchronization

/// Attempts' working and checkpoint directories, reused.
///
/// Every attempt runs in an empty directory of its own, and every task has a checkpoint
/// directory that lasts until it succeeds. Making and removing these per attempt (plus the
/// output file) was the largest cost of a short task on the agent: on ext4 each directory
/// takes an inode and a data block, and freeing the block may wait for a discard. So a
/// directory an attempt succeeded in is emptied and handed to the next attempt, its
/// `output.log` truncated rather than unlinked; one whose attempt did not succeed (or all of
/// them with `keep`) is moved to `jobs/JOB/task-N/attempt-A` for inspection. Local
/// checkpoint directories are recycled the same way, by renaming an emptied one into place.
///
/// When attempts run as their own uids (``TaskUsers``), an attempt's directory and its
/// task's checkpoint directory are its uid's, mode 0700, while it runs, and the agent's
/// again once it ended; the directories above them are the agent's, mode 0711, so that a
/// task can neither list nor replace them.
final class WorkDirectories: Sendable {
    /// Name of the file an attempt's stdout and stderr go to, in its directory.
    static let outputFileName = "output.log"

    private let root: String
    /// Where tasks' checkpoint directories live (`ROOT/JOB/task-N`).
    private let checkpointRoot: String
    private let keep: Bool
    /// Where checkpoint directories are recycled through, when they are local (under `root`).
    private let recyclesCheckpoints: Bool
    private struct Pool {
        var free: [String] = []
        var freeCheckpoints: [String] = []
        var next = 0
    }
    private let pool = Mutex(Pool())
    /// Running attempts' processes, written down beside their directories for the next run of the agent.
    let leftovers: LeftoverProcesses

    /// Directories live in `root/scratch` while in use or free (``removeLeftovers()`` clears a
    /// previous run's). Checkpoint directories under `checkpointRoot` are recycled only
    /// when it is `root/checkpoints` (the same filesystem, for a cheap rename).
    init(root: String, checkpointRoot: String, keep: Bool) {
        self.root = root
        self.checkpointRoot = checkpointRoot
        self.keep = keep
        recyclesCheckpoints = checkpointRoot == "\(root)/checkpoints"
        leftovers = LeftoverProcesses(directory: "\(root)/scratch")
    }

    /// Removes a previous run's scratch directories: only once this agent holds the
    /// directory's ``WorkDirectoryLock``, since another agent's would be running tasks.
    func removeLeftovers() {
        try? FileManager.default.removeItem(atPath: scratchRoot)
    }

    private var scratchRoot: String { "\(root)/scratch" }

    /// Makes the root and the scratch directory the agent's, enterable but not listable by tasks.
    func prepareRoots() throws {
        for directory in [root, scratchRoot] { try Self.makeDirectory(directory, mode: 0o711) }
        if recyclesCheckpoints { try Self.makeDirectory(checkpointRoot, mode: 0o711) }
    }

    /// An empty directory for an attempt (except perhaps an empty `output.log`), `owner`'s
    /// with mode 0700 when given.
    func take(for owner: UInt32? = nil) throws -> String {
        let (reused, number) = pool.withLock { pool -> (String?, Int) in
            if let path = pool.free.popLast() { return (path, 0) }
            pool.next += 1
            return (nil, pool.next)
        }
        let path = reused ?? "\(scratchRoot)/\(number)"
        if reused == nil {
            try FileManager.default.createDirectory(atPath: scratchRoot, withIntermediateDirectories: true)
            try Self.makeDirectory(path, mode: 0o755)
        }
        if let owner { try Self.give(path, to: owner) }
        return path
    }

    /// Ends `path`'s use by an attempt of `job`'s task `task`: reused when the attempt
    /// succeeded, else kept as `jobs/JOB/task-N/attempt-A`, which is returned.
    @discardableResult
    func release(_ path: String, succeeded: Bool, job: String, task: Int, attempt: Int) -> String? {
        // A task may have replaced its directory by a link: only a real one is emptied (the
        // link's target is never touched) and reused.
        if succeeded && !keep, Self.isDirectory(path), empty(path) {
            Self.reclaim(path)
            pool.withLock { $0.free.append(path) }
            return nil
        }
        let kept = "\(root)/jobs/\(job)/task-\(task)/attempt-\(attempt)"
        do {
            try FileManager.default.createDirectory(atPath: "\(root)/jobs/\(job)/task-\(task)", withIntermediateDirectories: true)
            try? FileManager.default.removeItem(atPath: kept) // a leftover of an earlier agent run
            try FileManager.default.moveItem(atPath: path, toPath: kept)
            Self.reclaim(kept) // its uid may be another attempt's next
            return kept
        } catch {
            try? FileManager.default.removeItem(atPath: path)
            return nil
        }
    }

    /// The checkpoint directory of `job`'s task `task` (`DROVER_CHECKPOINT_DIR`).
    func checkpoints(job: String, task: Int) -> String { "\(checkpointRoot)/\(job)/task-\(task)" }

    /// Makes sure the checkpoint directory `path` exists: an earlier attempt's is kept as it is,
    /// and handed, with all it holds, to `owner` when given (mode 0700).
    func prepareCheckpoints(_ path: String, for owner: UInt32? = nil) throws {
        try createCheckpoints(path)
        if let owner { try Self.give(path, to: owner, recursively: true) }
    }

    private func createCheckpoints(_ path: String) throws {
        let parent = (path as NSString).deletingLastPathComponent
        if mkdir(parent, 0o711) != 0 && errno != EEXIST {
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        }
        if access(path, F_OK) == 0 { return }
        if recyclesCheckpoints, let free = pool.withLock({ $0.freeCheckpoints.popLast() }) {
            if rename(free, path) == 0 { return }
            try? FileManager.default.removeItem(atPath: free)
        }
        if mkdir(path, 0o755) != 0 && errno != EEXIST {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        }
    }

    /// An attempt that had `path` as its checkpoint directory ended: it is the agent's again
    /// (mode 0700), so that whoever gets that uid next cannot enter it.
    func reclaimCheckpoints(_ path: String) {
        Self.reclaim(path)
    }

    /// The task whose checkpoints `path` holds is done: they go (the directory is recycled).
    func discardCheckpoints(_ path: String) {
        // Only a real directory is emptied and recycled: a task may have replaced its own by a
        // link, whose target must not be touched (removing the link is all that happens).
        if recyclesCheckpoints, Self.isDirectory(path), empty(path, keeping: nil) {
            let number = pool.withLock { pool -> Int in
                pool.next += 1
                return pool.next
            }
            let free = "\(scratchRoot)/c\(number)"
            if mkdir(scratchRoot, 0o711) == 0 || errno == EEXIST, rename(path, free) == 0 {
                Self.reclaim(free)
                pool.withLock { $0.freeCheckpoints.append(free) }
                return
            }
        }
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Makes the directory `path` (its parent exists) or finds it there; with `mode` either way.
    private static func makeDirectory(_ path: String, mode: mode_t) throws {
        guard mkdir(path, mode) == 0 || errno == EEXIST, chmod(path, mode) == 0 else {
            throw WorkDirectoryError("cannot make \(path) a directory with mode \(String(mode, radix: 8)): \(String(cString: strerror(errno)))")
        }
    }

    /// Gives the directory `path` (not a link), and with `recursively` all it holds, to `uid`
    /// (group the same number), with mode 0700 for the directory.
    private static func give(_ path: String, to uid: UInt32, recursively: Bool = false) throws {
        let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw WorkDirectoryError("cannot hand \(path) to uid \(uid): \(String(cString: strerror(errno)))")
        }
        let failure = recursively ? OwnershipTree.give(descriptor, to: uid, gid: uid) : OwnershipTree.giveOnly(descriptor, to: uid, gid: uid)
        if let failure {
            throw WorkDirectoryError("cannot hand \(path) to uid \(uid): \(failure); the agent must be able to chown there (a filesystem that maps "
                                     + "root to nobody cannot): choose another --work-dir / --checkpoint-dir, or pass --task-uids none")
        }
    }

    /// Gives the directory `path` (not a link) back to the agent, mode 0700; best effort (a
    /// directory that cannot be reclaimed is one the agent could not chown to begin with).
    private static func reclaim(_ path: String) {
        let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        _ = OwnershipTree.giveOnly(descriptor, to: getuid(), gid: getgid())
    }

    /// Whether `path` is a directory itself, not a link to one.
    private static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
    }

    /// Removes everything in `path` but its output file, which is truncated. False when
    /// something could not be removed (the directory is then not reused).
    private func empty(_ path: String, keeping kept: String? = WorkDirectories.outputFileName) -> Bool {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: path) else { return false }
        for name in names where name != kept {
            guard (try? FileManager.default.removeItem(atPath: "\(path)/\(name)")) != nil else { return false }
        }
        guard let kept else { return true }
        var info = stat()
        let output = "\(path)/\(kept)"
        if lstat(output, &info) != 0 { return errno == ENOENT }
        // A task may have replaced its output file by a link or a directory: never truncate
        // through it (it could point at another job's file); remove it instead.
        guard info.st_mode & S_IFMT == S_IFREG else { return (try? FileManager.default.removeItem(atPath: output)) != nil }
        return info.st_size == 0 || truncate(output, 0) == 0
    }
}
