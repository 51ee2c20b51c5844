import DroverAPI
import Foundation

/// Where one attempt runs and writes.
struct AttemptPaths: Sendable, Equatable {
    /// Its working directory (`DROVER_WORK_DIR`).
    var directory: String
    /// Its task's checkpoint directory (`DROVER_CHECKPOINT_DIR`).
    var checkpoints: String
    var output: String { "\(directory)/\(WorkDirectories.outputFileName)" }
    var progress: String { "\(directory)/progress.jsonl" }
}

/// The environment of an attempt's process: the agent's own, then the job's `env`, then
/// Drover's variables, which win. A gang rank's variables (RANK, WORLD_SIZE, MASTER_ADDR…)
/// belong in `droverVariables`, next to the task's.
struct TaskEnvironment: Sendable {
    /// The agent's environment less any `DROVER_` variables, which would mislead a task.
    let inherited: [String: String]

    init(inheriting environment: [String: String] = ProcessInfo.processInfo.environment) {
        inherited = environment.filter { !$0.key.hasPrefix("DROVER_") }
    }

    /// Everything the process of `lease`'s attempt sees.
    func variables(for lease: LeaseView, at paths: AttemptPaths) -> [String: String] {
        var environment = inherited
        environment.merge(lease.env) { _, job in job }
        environment.merge(Self.droverVariables(for: lease, at: paths)) { _, drover in drover }
        return environment
    }

    /// The variables Drover defines for an attempt.
    static func droverVariables(for lease: LeaseView, at paths: AttemptPaths) -> [String: String] {
        let gpus = lease.gpus.map(String.init).joined(separator: ",")
        return [
            "DROVER_JOB_ID": lease.jobId,
            "DROVER_JOB_NAME": lease.jobName,
            "DROVER_TEAM": lease.team,
            "DROVER_TASK_INDEX": String(lease.task),
            "DROVER_TASK_COUNT": String(lease.taskCount),
            "DROVER_ATTEMPT": String(lease.attempt),
            "DROVER_ATTEMPT_ID": lease.attemptId,
            "DROVER_WORK_DIR": paths.directory,
            "DROVER_CHECKPOINT_DIR": paths.checkpoints,
            "DROVER_PROGRESS_FILE": paths.progress,
            "DROVER_GPU_IDS": gpus,
            "CUDA_VISIBLE_DEVICES": gpus,
        ]
    }
}

/// A task's progress file (`DROVER_PROGRESS_FILE`): JSON lines it appends.
enum ProgressFile {
    /// The last complete JSON object line of the file at `path` (only its last 8 KiB are read).
    static func latest(at path: String?) -> JSONValue? {
        guard let path, let handle = TaskFile.openForReading(path) else { return nil }
        defer { try? handle.close() }
        guard let size = try? handle.seekToEnd(), size > 0 else { return nil }
        try? handle.seek(toOffset: size > 8192 ? size - 8192 : 0)
        guard let data = try? handle.readToEnd() else { return nil }
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n").reversed() {
            if let value = try? JSONDecoder().decode(JSONValue.self, from: Data(line.utf8)), case .object = value { return value }
        }
        return nil
    }
}
