import DroverAPI
import DroverCore
import Foundation

/// A machine joining the cluster, as ``Cluster/register(_:tokenHash:)`` takes it.
struct NodeRegistration: Sendable {
    var name: String
    var capacity: Resources
    var gpuIndices: [Int]
    var labels: [String: String]
    var prices: Prices
    var taskIsolation: TaskIsolation
}

/// What became of one report (``Cluster/report(_:from:maxLeases:)``).
enum ReportJudgement: Sendable, Equatable {
    /// Committed now.
    case accepted
    /// The same outcome was committed before (a resend).
    case duplicate(String)
    /// The lease is gone; recorded as an event, nothing changed.
    case stale(String)
    /// Another node's attempt.
    case forbidden(String)
    case invalid(String)
}

/// The route edge: wire bodies become the domain commands ``Cluster`` takes, and its answers
/// become wire views. Nothing past the routes sees a wire type of a request.
enum WireCommands {
    static func registration(_ request: RegisterRequest) -> NodeRegistration {
        var labels = request.labels
        if let model = request.gpus.first?.name, labels["gpu.model"] == nil { labels["gpu.model"] = model }
        return NodeRegistration(
            name: request.name, capacity: Resources(millicores: Int64((request.cpu * 1000).rounded()), memoryBytes: request.memory, gpus: request.gpus.count),
            gpuIndices: request.gpus.map(\.index), labels: labels,
            prices: Prices(cpuHourMicros: Money.micros(request.prices.cpuHour), memoryGiBHourMicros: Money.micros(request.prices.memoryGiBHour),
                           gpuHourMicros: Money.micros(request.prices.gpuHour)),
            taskIsolation: request.taskIsolation ?? .shared)
    }

    /// The progress each heartbeat attempt carries, by attempt (ids that are not numbers are skipped).
    static func progress(of attempts: [HeartbeatAttempt]) -> [AttemptID: String?] {
        var byID: [AttemptID: String?] = [:]
        for attempt in attempts {
            guard let raw = Int64(attempt.attemptId) else { continue }
            byID[AttemptID(raw)] = attempt.progress.flatMap(encodeProgress)
        }
        return byID
    }

    /// A report the cluster can judge, or why it is refused on its own (the rest of its batch stands).
    static func report(_ view: ReportView) -> Result<AttemptReport, ReportRefusal> {
        guard let raw = Int64(view.attemptId) else { return .failure(ReportRefusal("attemptId must be a number")) }
        // Decoding admits every attempt state; `running` and `lost` are the coordinator's to decide.
        guard view.outcome != .running, view.outcome != .lost else {
            return .failure(ReportRefusal("outcome must be succeeded, failed, timed_out, cancelled or preempted"))
        }
        return .success(AttemptReport(attempt: AttemptID(raw), outcome: view.outcome, exitCode: view.exitCode, signal: view.signal,
                                      peakRSSBytes: view.peakRssBytes, wallMilliseconds: view.wallMs,
                                      progress: view.progress.flatMap(encodeProgress), reason: view.reason))
    }

    struct ReportRefusal: Error {
        var detail: String
        init(_ detail: String) { self.detail = detail }
    }

    static func view(of judgement: ReportJudgement, attemptId: String) -> ReportResultView {
        switch judgement {
        case .accepted: ReportResultView(attemptId: attemptId, status: .accepted, detail: nil)
        case .duplicate(let detail): ReportResultView(attemptId: attemptId, status: .duplicate, detail: detail)
        case .stale(let detail): ReportResultView(attemptId: attemptId, status: .stale, detail: detail)
        case .forbidden(let detail): ReportResultView(attemptId: attemptId, status: .forbidden, detail: detail)
        case .invalid(let detail): ReportResultView(attemptId: attemptId, status: .invalid, detail: detail)
        }
    }

    /// Progress as the store keeps it: compact JSON of at most 4 KiB (larger is dropped).
    static func encodeProgress(_ value: JSONValue) -> String? {
        guard let data = try? JSONEncoder().encode(value), data.count <= 4096 else { return nil }
        return String(decoding: data, as: UTF8.self)
    }
}
