import DroverAPI
import DroverClient
import DroverCore
import Foundation

/// One agent setting under its three names (flag, `DROVER_*` variable, file field).
public typealias AgentSetting = Setting<AgentConfiguration>

extension AgentConfiguration: ResolvableConfiguration {
    /// Every setting of `drover agent`, in the order the README's table lists them.
    ///
    /// The coordinator URL, join token and CA keep the names the CLI and the coordinator share
    /// (`DROVER_COORDINATOR`, `DROVER_JOIN_TOKEN`, `DROVER_CA_CERT`, `DROVER_CA_PIN`); the agent's own variables
    /// start with `DROVER_AGENT_`, since `DROVER_WORK_DIR` and `DROVER_CHECKPOINT_DIR` are what
    /// each task is given.
    public static let settings = Settings<AgentConfiguration>("agent", [
        AgentSetting("coordinator", flag: "coordinator", default: "http://127.0.0.1:7070", "Coordinator URL") { input, c throws(ConfigurationError) in
            c.coordinatorURL = try input.url()
        },
        AgentSetting("joinToken", flag: "join-token", default: "required", "Token to register with (the coordinator's joinToken)") { input, c throws(ConfigurationError) in
            c.joinToken = try input.text()
        },
        AgentSetting("caCert", flag: "ca-cert", default: "none", "PEM CA certificate to trust, besides the system's, for an HTTPS coordinator") { input, c throws(ConfigurationError) in
            c.caCertificate = try input.path()
        },
        AgentSetting("caPin", flag: "ca-pin", default: "none", "Pin (sha256:HEX) of the coordinator's generated CA, printed at its start: the only CA then trusted") { input, c throws(ConfigurationError) in
            c.caPin = try input.caPin()
        },
        AgentSetting("name", flag: "name", environment: "DROVER_AGENT_NAME", default: "the host name", "Node name") { input, c throws(ConfigurationError) in
            let name = try input.text()
            guard !name.isEmpty else { throw input.fail("a node name cannot be empty") }
            c.name = name
        },
        AgentSetting("cpu", flag: "cpu", environment: "DROVER_AGENT_CPU", default: "all cores", "CPU cores to offer, e.g. 4 or 0.5") { input, c throws(ConfigurationError) in
            c.cpu = try input.number(above: 0)
        },
        AgentSetting("memory", flag: "memory", environment: "DROVER_AGENT_MEMORY", default: "all memory", "Memory to offer, e.g. 8GiB") { input, c throws(ConfigurationError) in
            c.memoryBytes = try input.size(example: "8GiB")
        },
        AgentSetting("gpu", flag: "gpu", environment: "DROVER_AGENT_GPU", default: "those nvidia-smi lists", "GPUs to offer") { input, c throws(ConfigurationError) in
            c.gpus = try input.integer(in: 0...1024)
        },
        AgentSetting("labels", flag: "label", environment: "DROVER_AGENT_LABELS", default: "none",
                     "Node labels k=v: the flag repeats, the variable is k=v,k=v, the file field a mapping {zone: eu}") { input, c throws(ConfigurationError) in
            c.labels = try AgentConfiguration.labels(input)
        },
        AgentSetting("priceCpuHour", flag: "price-cpu-hour", environment: "DROVER_AGENT_PRICE_CPU_HOUR", default: "0",
                     "Price of one CPU core per hour (a coordinator rate card overrides it)") { input, c throws(ConfigurationError) in
            c.prices.cpuHour = try input.amount()
        },
        AgentSetting("priceMemoryGibHour", flag: "price-memory-gib-hour", environment: "DROVER_AGENT_PRICE_MEMORY_GIB_HOUR", default: "0",
                     "Price of one GiB of memory per hour") { input, c throws(ConfigurationError) in
            c.prices.memoryGiBHour = try input.amount()
        },
        AgentSetting("priceGpuHour", flag: "price-gpu-hour", environment: "DROVER_AGENT_PRICE_GPU_HOUR", default: "0", "Price of one GPU per hour") { input, c throws(ConfigurationError) in
            c.prices.gpuHour = try input.amount()
        },
        AgentSetting("workDir", flag: "work-dir", environment: "DROVER_AGENT_WORK_DIR", default: "TMPDIR/drover-agent-NAME",
                     "Directory of attempts' working directories") { input, c throws(ConfigurationError) in
            c.workDirectory = try input.path()
        },
        AgentSetting("checkpointDir", flag: "checkpoint-dir", environment: "DROVER_AGENT_CHECKPOINT_DIR", default: "WORK_DIR/checkpoints",
                     "Root of tasks' DROVER_CHECKPOINT_DIR (ROOT/JOB/task-N); a shared filesystem lets tasks resume elsewhere") { input, c throws(ConfigurationError) in
            c.checkpointRoot = try input.path()
        },
        AgentSetting("killGrace", flag: "kill-grace", environment: "DROVER_AGENT_KILL_GRACE", default: "10s",
                     "Time between SIGTERM and SIGKILL when stopping a task") { input, c throws(ConfigurationError) in
            c.killGrace = try input.duration(example: "10s", minimum: 0)
        },
        AgentSetting("disconnectGrace", flag: "disconnect-grace", environment: "DROVER_AGENT_DISCONNECT_GRACE", default: "the lease TTL",
                     "How long tasks keep running while the coordinator is unreachable, then the agent stops them") { input, c throws(ConfigurationError) in
            c.disconnectGrace = try input.duration(example: "60s")
        },
        AgentSetting("nvidiaSmi", flag: "nvidia-smi", environment: "DROVER_AGENT_NVIDIA_SMI", default: "nvidia-smi on PATH",
                     "nvidia-smi to run to find GPUs") { input, c throws(ConfigurationError) in
            c.nvidiaSmi = try input.path()
        },
        AgentSetting("keepWorkDirs", flag: "keep-work-dirs", environment: "DROVER_AGENT_KEEP_WORK_DIRS", default: "false",
                     "Keep the working directories of attempts that succeeded (true or false)") { input, c throws(ConfigurationError) in
            c.keepWorkDirectories = try input.bool()
        },
        AgentSetting("taskUids", flag: "task-uids", environment: "DROVER_AGENT_TASK_UIDS", default: TaskUIDRange.defaultText,
                     "Uids FIRST-LAST that attempts run as (one each, gid the same) when the agent is root; none: as the agent's uid") { input, c throws(ConfigurationError) in
            switch TaskUIDRange.parse(try input.text()) {
            case .success(let range): c.taskUIDs = range
            case .failure(let refusal): throw input.fail(refusal.message)
            }
        },
    ])

    /// Labels as k=v texts, or in the file as a mapping.
    private static func labels(_ input: SettingInput) throws(ConfigurationError) -> [String: String] {
        var labels: [String: String] = [:]
        if case .file(.object(let fields)) = input.value {
            for (key, value) in fields.sorted(by: { $0.key < $1.key }) {
                let text = try SettingInput(value: .file(value), origin: "\(input.origin).\(key)").text()
                guard Labels.isValidKey(key), !text.isEmpty else { throw input.fail("'\(key): \(text)' is not a label key and value such as zone: eu") }
                labels[key] = text
            }
            return labels
        }
        for label in try input.list() {
            guard let constraint = Constraint(parsing: label), constraint.op == .equal else { throw input.fail("'\(label)' is not k=v") }
            labels[constraint.key] = constraint.value
        }
        return labels
    }

    /// Checks what no single setting can.
    public func validate() throws(ConfigurationError) {
        guard !joinToken.isEmpty else {
            throw ConfigurationError("a join token is required: pass --join-token or set DROVER_JOIN_TOKEN (or joinToken in the --config file)")
        }
        try CoordinatorTrust.check(url: coordinatorURL, caCertificate: caCertificate, caPin: caPin)
    }
}
