import DroverCore
import DroverStore
import Foundation
import GRDB

extension SQLiteStore {
    // MARK: - Row decoding

    static func ledgerEntry(_ row: Row) throws -> LedgerEntry {
        LedgerEntry(id: row["id"], attempt: AttemptID(row["attempt_id"]), team: row["team"], job: JobID(row["job_id"]), node: NodeID(row["node_id"]),
                    resource: try enumValue(row["resource"]), quantity: row["quantity"], rateMicros: row["rate_micros"],
                    amountMicros: row["amount_micros"], from: Timestamp(milliseconds: row["from_ms"]), to: Timestamp(milliseconds: row["to_ms"]),
                    reverses: row["reverses"], note: row["note"])
    }

    static func alert(_ row: Row) throws -> BudgetAlert {
        BudgetAlert(team: row["team"], level: try enumValue(row["level"]), at: Timestamp(milliseconds: row["at"]),
                    periodStartDay: row["period_start_day"], spentMicros: row["spent_micros"], budgetMicros: row["budget_micros"],
                    message: row["message"])
    }

    /// A meter as eight integers: three rates, the segment start, the booked-until instant and
    /// the three amounts booked in the segment (compact, and cheap on every lease).
    static func encodeMeter(_ meter: CostMeter) -> String {
        ([meter.prices.cpuHourMicros, meter.prices.memoryGiBHourMicros, meter.prices.gpuHourMicros,
          meter.rateSinceMilliseconds, meter.bookedUntilMilliseconds] + meter.bookedInSegment).map(String.init).joined(separator: ",")
    }

    static func decodeMeter(_ text: String) throws -> CostMeter {
        let values = text.split(separator: ",").compactMap { Int64($0) }
        guard values.count == 5 + CostResource.allCases.count else { throw StoreError("malformed cost meter '\(text)' in the attempts table") }
        var meter = CostMeter(prices: Prices(cpuHourMicros: values[0], memoryGiBHourMicros: values[1], gpuHourMicros: values[2]),
                              since: Timestamp(milliseconds: values[3]))
        meter.bookedUntilMilliseconds = values[4]
        meter.bookedInSegment = Array(values[5...])
        return meter
    }

    static func enumValue<T: RawRepresentable>(_ raw: String) throws -> T where T.RawValue == String {
        guard let value = T(rawValue: raw) else { throw StoreError("unknown \(T.self) '\(raw)' in the database; is it from a newer Drover?") }
        return value
    }

    static func indices(_ text: String) -> [Int] {
        text.split(separator: ",").compactMap { Int($0) }
    }

    static func attempt(_ row: Row) throws -> AttemptRecord {
        var attempt = AttemptRecord(
            id: AttemptID(row["id"]), task: TaskRef(job: JobID(row["job_id"]), index: row["idx"]), number: row["number"],
            node: NodeID(row["node_id"]), state: try enumValue(row["state"]),
            allocation: Resources(millicores: row["millicores"], memoryBytes: row["memory_bytes"], gpus: row["gpus"]),
            gpuIndices: indices(row["gpu_indices"]), startedAt: Timestamp(milliseconds: row["started_at"]),
            endedAt: (row["ended_at"] as Int64?).map(Timestamp.init), exitCode: (row["exit_code"] as Int64?).map { Int32($0) },
            signal: (row["signal"] as Int64?).map { Int32($0) }, peakRSSBytes: row["peak_rss_bytes"], costMicros: row["cost_micros"],
            progress: row["progress"], reason: row["reason"])
        attempt.meter = try (row["meter"] as String?).map(decodeMeter)
        return attempt
    }

    static func event(_ row: Row) -> Event {
        Event(subject: row["subject"], job: (row["job_id"] as Int64?).map(JobID.init), at: Timestamp(milliseconds: row["at"]),
              from: row["from_state"], to: row["to_state"], reason: row["reason"], actor: row["actor"])
    }
}
