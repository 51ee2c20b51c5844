import DroverAPI
import DroverCore
import Foundation

/// What `wait` shows of a job: its status line (bar, elapsed, ETA, metrics) and, when it
/// failed, why and how its output ended. Pure, so the wording is tested without a cluster;
/// `JobWatcher` does the I/O.
enum WaitDisplay {
    /// How many lines of the failed task's output are shown.
    static let failedOutputLines = 20

    /// The status line of `job` at wall time `nowMs` (ms since 1970), cut to `width` characters
    /// when given (a line wider than the terminal would wrap, and `\r` could not redraw it).
    ///
    /// `job 12 running [########------------] 40% | 0/1 tasks done, 1 running | 4.2s elapsed, ETA 6.3s | loss 0.31`
    static func statusLine(_ job: JobView, progress: JSONValue?, nowMs: Int64, width: Int? = nil) -> String {
        var parts = ["job \(job.id) \(job.state.rawValue)" + (fraction(job, progress: progress).map { " \(bar($0)) \(percent($0))%" } ?? "")]
        parts.append(counts(job))
        var time = elapsedMs(job, nowMs: nowMs).map { "\(Quantity.formatDuration($0)) elapsed" } ?? "not started"
        if let eta = etaMs(job, progress: progress, nowMs: nowMs) { time += ", ETA \(Quantity.formatDuration(eta))" }
        parts.append(time)
        if let metrics = metrics(progress) { parts.append(metrics) }
        let line = parts.joined(separator: " | ")
        guard let width, width > 1, line.count > width else { return line }
        return String(line.prefix(width - 1)) + "…"
    }

    /// Everything the status line shows except the time: plain output prints a line only when this changes.
    static func changeKey(_ job: JobView, progress: JSONValue?) -> String {
        [job.state.rawValue, counts(job), fraction(job, progress: progress).map { String(percent($0)) } ?? "-", metrics(progress) ?? ""]
            .joined(separator: "|")
    }

    /// Time since the job started (or was submitted, while nothing has started), up to its end.
    static func elapsedMs(_ job: JobView, nowMs: Int64) -> Int64? {
        guard let start = WireTime.parse(job.startedAt ?? job.submittedAt) else { return nil }
        let end = job.endedAt.flatMap(WireTime.parse) ?? nowMs
        return max(0, end - start)
    }

    /// How far the job is, 0...1: done tasks of several, or the one task's reported `progress`.
    static func fraction(_ job: JobView, progress: JSONValue?) -> Double? {
        if job.state == .succeeded { return 1 }
        let t = job.tasks
        guard t.total > 0 else { return nil }
        if t.total > 1 { return Double(t.succeeded + t.failed + t.cancelled) / Double(t.total) }
        guard case .object(let fields)? = progress, case .number(let reported)? = fields["progress"] else { return nil }
        return min(1, max(0, reported))
    }

    /// The time left at the pace so far, while the job runs and has made some progress.
    static func etaMs(_ job: JobView, progress: JSONValue?, nowMs: Int64) -> Int64? {
        guard job.state == .running, job.startedAt != nil, let f = fraction(job, progress: progress), f > 0, f < 1,
              let elapsed = elapsedMs(job, nowMs: nowMs), elapsed >= 1000 else { return nil }
        return Int64(Double(elapsed) * (1 - f) / f)
    }

    /// `[########------------]`: 20 cells.
    static func bar(_ fraction: Double, cells: Int = 20) -> String {
        let filled = Int((fraction * Double(cells)).rounded(.down))
        return "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: cells - filled) + "]"
    }

    /// The metrics of a progress line, by name: `acc 0.91 loss 0.31`.
    static func metrics(_ progress: JSONValue?) -> String? {
        guard case .object(let fields)? = progress, case .object(let metrics)? = fields["metrics"] else { return nil }
        let shown = metrics.sorted { $0.key < $1.key }.compactMap { key, value -> String? in
            switch value {
            case .number(let n): return "\(key) \(String(format: "%.4g", n))"
            case .string(let s): return "\(key) \(s.prefix(40))"
            default: return nil
            }
        }
        return shown.isEmpty ? nil : shown.joined(separator: " ")
    }

    /// The progress to show once the job ended (the job view has progress only while tasks
    /// run): the latest attempt's that has one.
    static func finalProgress(_ job: JobView) -> JSONValue? {
        (job.attempts ?? []).filter { $0.progress != nil }.max(by: ordered)?.progress
    }

    /// The attempt that failed the job: the latest one that failed, timed out or was lost.
    static func failedAttempt(_ job: JobView) -> AttemptView? {
        let attempts = job.attempts ?? []
        let failing: Set<AttemptState> = [.failed, .timedOut, .lost]
        return attempts.filter { failing.contains($0.outcome) }.max(by: ordered)
            ?? attempts.filter { $0.outcome != .succeeded && $0.outcome != .running }.max(by: ordered)
    }

    /// Why the job failed, how its failed task's output ended, and the command that shows all of it.
    static func failureReport(_ job: JobView, attempt: AttemptView?, lastLines: [String]) -> String {
        var lines = ["job \(job.id) \(job.state.rawValue): \(job.reason ?? "no reason recorded")"]
        guard let attempt else { return lines.joined(separator: "\n") }
        // The attempt's reason says it best (oom, timeout, exit code); the bare code when it has none.
        let code = attempt.exitCode.map { "exit code \($0)" } ?? attempt.signal.map { "signal \($0)" } ?? attempt.outcome.rawValue
        let how = attempt.reason.flatMap { $0.isEmpty ? nil : $0 } ?? code
        lines.append("task \(attempt.task), attempt \(attempt.attempt) on \(attempt.node): \(how)")
        if lastLines.isEmpty {
            lines.append("task \(attempt.task) wrote no output")
        } else {
            lines.append("last \(lastLines.count) line\(lastLines.count == 1 ? "" : "s") of task \(attempt.task)'s output:")
            lines += lastLines.map { "  " + $0 }
        }
        lines.append("all of it: drover logs \(job.id) --task \(attempt.task)")
        return lines.joined(separator: "\n")
    }

    /// The last `count` lines of `bytes`; with `fromMidLine`, the first (partial) line is dropped.
    static func lastLines(_ bytes: [UInt8], count: Int = failedOutputLines, fromMidLine: Bool = false) -> [String] {
        var lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        if fromMidLine, !lines.isEmpty { lines.removeFirst() }
        return Array(lines.suffix(count))
    }

    /// What a Ctrl-C prints: the job is not cancelled, and how to cancel it.
    static func interrupted(_ id: String) -> String {
        "job \(id) keeps running; `drover job cancel \(id)` stops it"
    }

    private static func counts(_ job: JobView) -> String {
        let t = job.tasks
        var text = "\(t.succeeded + t.failed + t.cancelled)/\(t.total) tasks done"
        if t.running > 0 { text += ", \(t.running) running" }
        if t.queued > 0 && !job.state.isTerminal { text += ", \(t.queued) queued" }
        if t.failed > 0 { text += ", \(t.failed) failed" }
        if t.cancelled > 0 { text += ", \(t.cancelled) cancelled" }
        return text
    }

    private static func percent(_ fraction: Double) -> Int { Int((fraction * 100).rounded(.down)) }

    /// Attempts by when they ended (running ones last), then by number.
    private static func ordered(_ a: AttemptView, _ b: AttemptView) -> Bool {
        let (x, y) = (a.endedAt.flatMap(WireTime.parse) ?? .max, b.endedAt.flatMap(WireTime.parse) ?? .max)
        return x != y ? x < y : (a.task, a.attempt) < (b.task, b.attempt)
    }
}
