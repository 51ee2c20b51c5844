import DroverAPI
import DroverClient
import DroverCore
import Foundation

/// Follows a job to its end for `wait` and `submit --wait`, on stderr: on a terminal one status
/// line redrawn in place, otherwise a line each time something other than the time changed.
/// When the job failed it adds the reason and the failed task's last lines of output; on
/// Ctrl-C it says that the job keeps running and exits 130.
struct JobWatcher {
    let client: DroverClient

    /// - Parameter interruptible: whether Ctrl-C says the job keeps running (not for a cluster
    ///   that lives in this process, as the demo's, which Ctrl-C ends with it).
    func follow(_ id: String, json: Bool, interruptible: Bool = true) async throws -> JobView {
        let terminal = !json && isatty(STDERR_FILENO) == 1
        let interrupt = interruptible ? InterruptNotice(message: WaitDisplay.interrupted(id), endLineFirst: terminal) : nil
        defer { interrupt?.cancel() }
        var progress: JSONValue?
        var lastKey: String?
        var failures = 0
        while true {
            let job: JobView
            do {
                job = try await client.jobSummary(id)
                failures = 0
            } catch let error as DroverClientError where error.status == nil && !error.isTrustFailure && failures < 30 {
                failures += 1 // the coordinator may be restarting; keep following
                try await Task.sleep(for: .seconds(1))
                continue
            }
            if let latest = job.progress { progress = latest }
            if job.isFinished {
                let final = try await client.job(id, events: 0)
                if json { return final }
                let line = WaitDisplay.statusLine(final, progress: WaitDisplay.finalProgress(final) ?? progress, nowMs: Self.nowMs)
                write(terminal ? "\r\u{1B}[2K\(line)\n" : "\(line)\n")
                if final.state == .failed { write(try await failureReport(final) + "\n") }
                return final
            }
            if terminal {
                write("\r\u{1B}[2K" + WaitDisplay.statusLine(job, progress: progress, nowMs: Self.nowMs, width: Self.terminalWidth()))
            } else if !json, WaitDisplay.changeKey(job, progress: progress) != lastKey {
                write(WaitDisplay.statusLine(job, progress: progress, nowMs: Self.nowMs) + "\n")
                lastKey = WaitDisplay.changeKey(job, progress: progress)
            }
            try await Task.sleep(for: .milliseconds(250))
        }
    }

    private func failureReport(_ job: JobView) async throws -> String {
        guard let attempt = WaitDisplay.failedAttempt(job) else { return WaitDisplay.failureReport(job, attempt: nil, lastLines: []) }
        let tail = try await LogTail.read { offset in
            try await client.logs(job: job.id, task: attempt.task, attempt: attempt.attempt, offset: offset).data
        }
        return WaitDisplay.failureReport(job, attempt: attempt, lastLines: WaitDisplay.lastLines(tail.bytes, fromMidLine: tail.offset > 0))
    }

    /// Writes to stderr, after what was printed to stdout before it (buffered when stdout is a
    /// file or pipe), so `drover demo > out.txt 2>&1` keeps the order things happened in.
    private func write(_ text: String) {
        flushStandardOutput()
        FileHandle.standardError.write(Data(text.utf8))
    }

    private static var nowMs: Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }

    private static func terminalWidth() -> Int? {
        var size = winsize()
        guard ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return nil }
        return Int(size.ws_col)
    }
}

/// The end of an attempt's output through the logs API, which reads forward from an offset
/// (up to a chunk at a time): it finds where the output ends by probing offsets, doubling
/// then halving, so a long log costs a few requests rather than being read whole.
enum LogTail {
    /// At most this many bytes before the end are read: 20 lines of any sensible width.
    static let window: Int64 = 64 << 10

    /// The last bytes of the output (at most `window`) and the offset they start at.
    static func read(_ chunk: (Int64) async throws -> [UInt8]) async throws -> (bytes: [UInt8], offset: Int64) {
        let first = try await chunk(0)
        // A read at an offset returns bytes exactly when the output goes past it; `low` never passes the end.
        var low = Int64(first.count)
        var step = max(low, 1)
        var high: Int64?
        while high == nil {
            let next = try await chunk(low)
            if next.isEmpty { high = low; break }
            low += Int64(next.count)
            let probe = low + step
            let ahead = try await chunk(probe)
            if ahead.isEmpty { high = probe } else { (low, step) = (probe + Int64(ahead.count), step * 2) }
        }
        var end = high!
        while low < end {
            let middle = low + (end - low) / 2
            let data = try await chunk(middle)
            if data.isEmpty { end = middle } else { low = middle + Int64(data.count) }
        }
        let start = max(0, end - window)
        if start == 0 && Int64(first.count) >= end { return (Array(first.prefix(Int(end))), 0) }
        var bytes: [UInt8] = []
        while start + Int64(bytes.count) < end {
            let data = try await chunk(start + Int64(bytes.count))
            if data.isEmpty { break }
            bytes += data.prefix(Int(end - start) - bytes.count)
        }
        return (bytes, start)
    }
}

/// While it lives, Ctrl-C (SIGINT) prints `message` and exits 130 (128 + SIGINT, as shells
/// report it), instead of ending the CLI silently with the user unsure whether the job ended too.
struct InterruptNotice {
    private let source: any DispatchSourceSignal

    /// - Parameter endLineFirst: end the status line being redrawn before the message.
    init(message: String, endLineFirst: Bool) {
        signal(SIGINT, SIG_IGN) // the dispatch source sees the signal only once its default action is off
        source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        source.setEventHandler {
            FileHandle.standardError.write(Data(((endLineFirst ? "\n" : "") + message + "\n").utf8))
            exit(130)
        }
        source.resume()
    }

    func cancel() {
        source.cancel()
        signal(SIGINT, SIG_DFL)
    }
}
