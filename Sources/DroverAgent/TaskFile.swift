import Foundation
import Glibc

/// Opens a file in an attempt's directory (its output, its progress) for the agent to read.
///
/// The directory is the task's, so the task decides what the name is: only a regular file is
/// read, never through a link (under its own uid a task could otherwise point the agent, which
/// is root, at another task's files), and a FIFO never blocks the agent.
enum TaskFile {
    static func openForReading(_ path: String) -> FileHandle? {
        let descriptor = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        var info = stat()
        guard fstat(descriptor, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            close(descriptor)
            return nil
        }
        return FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
    }
}
