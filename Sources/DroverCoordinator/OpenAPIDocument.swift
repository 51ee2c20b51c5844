// The OpenAPI 3.1 document of the HTTP API, served at /v1/openapi.json. It is a copy of
// docs/openapi.json (a test checks that the two agree and that it lists exactly the routes
// the server registers): edit docs/openapi.json, then run scripts/sync-openapi.
enum OpenAPIDocument {
    static let json = #"""
{
  "openapi": "3.1.0",
  "info": {
    "title": "Drover",
    "version": "1",
    "description": "The coordinator's HTTP API. Every /v1 route needs a bearer token; errors are RFC 9457 problem+json."
  },
  "servers": [
    {
      "url": "http://127.0.0.1:7070"
    }
  ],
  "security": [
    {
      "bearer": []
    }
  ],
  "components": {
    "securitySchemes": {
      "bearer": {
        "type": "http",
        "scheme": "bearer"
      }
    },
    "schemas": {
      "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details",
        "required": [
          "type",
          "title",
          "status",
          "detail"
        ],
        "properties": {
          "type": {
            "type": "string"
          },
          "title": {
            "type": "string"
          },
          "status": {
            "type": "integer"
          },
          "detail": {
            "type": "string"
          },
          "field": {
            "type": "string",
            "description": "The request field at fault"
          }
        }
      },
      "Resources": {
        "type": "object",
        "required": [
          "cpu",
          "memory",
          "gpu"
        ],
        "properties": {
          "cpu": {
            "type": "number"
          },
          "memory": {
            "type": "integer"
          },
          "gpu": {
            "type": "integer"
          }
        }
      },
      "TaskCounts": {
        "type": "object",
        "required": [
          "total",
          "queued",
          "running",
          "succeeded",
          "failed",
          "cancelled"
        ],
        "properties": {
          "total": {
            "type": "integer",
            "minimum": 0
          },
          "queued": {
            "type": "integer",
            "minimum": 0
          },
          "running": {
            "type": "integer",
            "minimum": 0
          },
          "succeeded": {
            "type": "integer",
            "minimum": 0
          },
          "failed": {
            "type": "integer",
            "minimum": 0
          },
          "cancelled": {
            "type": "integer",
            "minimum": 0
          }
        }
      },
      "JobSpec": {
        "type": "object",
        "additionalProperties": false,
        "required": [
          "name",
          "team",
          "command"
        ],
        "description": "A job as submitted (YAML or JSON). Unknown fields are refused by name.",
        "properties": {
          "name": {
            "type": "string",
            "pattern": "^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$"
          },
          "team": {
            "type": "string",
            "pattern": "^[A-Za-z0-9_][A-Za-z0-9._-]{0,62}$"
          },
          "kind": {
            "type": "string",
            "enum": [
              "training",
              "batch"
            ]
          },
          "tasks": {
            "type": "integer",
            "minimum": 1,
            "maximum": 10000000
          },
          "command": {
            "oneOf": [
              {
                "type": "string",
                "minLength": 1
              },
              {
                "type": "array",
                "minItems": 1,
                "items": {
                  "type": "string"
                }
              }
            ]
          },
          "env": {
            "type": "object",
            "additionalProperties": {
              "oneOf": [
                {
                  "type": "string"
                },
                {
                  "type": "number"
                },
                {
                  "type": "boolean"
                },
                {
                  "type": "object",
                  "required": [
                    "value"
                  ],
                  "properties": {
                    "value": {
                      "type": "string"
                    },
                    "secret": {
                      "type": "boolean"
                    }
                  },
                  "additionalProperties": false
                }
              ]
            }
          },
          "resources": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
              "cpu": {
                "oneOf": [
                  {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "maximum": 1000000
                  },
                  {
                    "type": "string"
                  }
                ]
              },
              "memory": {
                "oneOf": [
                  {
                    "type": "integer",
                    "minimum": 1
                  },
                  {
                    "type": "string"
                  }
                ]
              },
              "gpu": {
                "type": "integer",
                "minimum": 0,
                "maximum": 1024
              }
            }
          },
          "priority": {
            "type": "integer",
            "minimum": -1000,
            "maximum": 1000
          },
          "constraints": {
            "oneOf": [
              {
                "type": "array",
                "items": {
                  "type": "string"
                }
              },
              {
                "type": "object",
                "additionalProperties": {
                  "type": "string"
                }
              }
            ]
          },
          "timeout": {
            "oneOf": [
              {
                "type": "string"
              },
              {
                "type": "number",
                "minimum": 0
              }
            ]
          },
          "maxAttempts": {
            "type": "integer",
            "minimum": 1,
            "maximum": 100
          },
          "maxLostAttempts": {
            "type": "integer",
            "minimum": 0,
            "maximum": 100
          },
          "backoff": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
              "initial": {
                "oneOf": [
                  {
                    "type": "string"
                  },
                  {
                    "type": "number"
                  }
                ]
              },
              "max": {
                "oneOf": [
                  {
                    "type": "string"
                  },
                  {
                    "type": "number"
                  }
                ]
              },
              "multiplier": {
                "type": "number",
                "minimum": 1,
                "maximum": 100
              },
              "jitter": {
                "type": "number",
                "minimum": 0,
                "maximum": 1
              }
            }
          },
          "nonRetryableExitCodes": {
            "type": "array",
            "items": {
              "type": "integer",
              "minimum": 0,
              "maximum": 255
            }
          },
          "retryOnExitCodes": {
            "type": "array",
            "items": {
              "type": "integer",
              "minimum": 0,
              "maximum": 255
            }
          },
          "checkpointExitCode": {
            "type": "integer",
            "minimum": 1,
            "maximum": 255
          },
          "maxFailedTasks": {
            "type": "integer",
            "minimum": 0
          },
          "circuitBreaker": {
            "oneOf": [
              {
                "type": "boolean"
              },
              {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                  "failures": {
                    "type": "integer",
                    "minimum": 0
                  },
                  "fast": {
                    "oneOf": [
                      {
                        "type": "string"
                      },
                      {
                        "type": "number"
                      }
                    ]
                  }
                }
              }
            ]
          },
          "expectedDuration": {
            "type": "string",
            "description": "How long one task is expected to run (30s, 20m, 2h), for cost estimates; default: timeout"
          }
        }
      },
      "Attempt": {
        "type": "object",
        "required": [
          "id",
          "task",
          "attempt",
          "node",
          "outcome",
          "startedAt",
          "cost",
          "gpus"
        ],
        "properties": {
          "id": {
            "type": "string"
          },
          "task": {
            "type": "integer"
          },
          "attempt": {
            "type": "integer"
          },
          "node": {
            "type": "string"
          },
          "outcome": {
            "type": "string",
            "enum": [
              "running",
              "succeeded",
              "failed",
              "timed_out",
              "lost",
              "cancelled",
              "preempted"
            ]
          },
          "exitCode": {
            "type": "integer"
          },
          "signal": {
            "type": "integer"
          },
          "startedAt": {
            "type": "string",
            "format": "date-time"
          },
          "endedAt": {
            "type": "string",
            "format": "date-time"
          },
          "peakRssBytes": {
            "type": "integer"
          },
          "cost": {
            "type": "number"
          },
          "gpus": {
            "type": "array",
            "items": {
              "type": "integer"
            }
          },
          "progress": {},
          "reason": {
            "type": "string"
          }
        }
      },
      "Event": {
        "type": "object",
        "required": [
          "at",
          "subject",
          "to",
          "reason",
          "actor"
        ],
        "properties": {
          "at": {
            "type": "string",
            "format": "date-time"
          },
          "subject": {
            "type": "string"
          },
          "from": {
            "type": "string"
          },
          "to": {
            "type": "string"
          },
          "reason": {
            "type": "string"
          },
          "actor": {
            "type": "string"
          }
        }
      },
      "Job": {
        "type": "object",
        "required": [
          "id",
          "name",
          "team",
          "kind",
          "state",
          "priority",
          "tasks",
          "command",
          "resources",
          "submittedAt",
          "submittedBy",
          "cost"
        ],
        "properties": {
          "id": {
            "type": "string"
          },
          "name": {
            "type": "string"
          },
          "team": {
            "type": "string"
          },
          "kind": {
            "type": "string",
            "enum": [
              "training",
              "batch"
            ]
          },
          "state": {
            "type": "string",
            "enum": [
              "queued",
              "running",
              "succeeded",
              "failed",
              "cancelled"
            ]
          },
          "priority": {
            "type": "integer"
          },
          "tasks": {
            "$ref": "#/components/schemas/TaskCounts"
          },
          "command": {
            "type": "array",
            "items": {
              "type": "string"
            }
          },
          "env": {
            "type": "object",
            "additionalProperties": {
              "type": "string"
            },
            "description": "Secret values are shown as ***"
          },
          "resources": {
            "$ref": "#/components/schemas/Resources"
          },
          "submittedAt": {
            "type": "string",
            "format": "date-time"
          },
          "startedAt": {
            "type": "string",
            "format": "date-time"
          },
          "endedAt": {
            "type": "string",
            "format": "date-time"
          },
          "submittedBy": {
            "type": "string"
          },
          "reason": {
            "type": "string"
          },
          "pendingReason": {
            "type": "string"
          },
          "cost": {
            "type": "number"
          },
          "progress": {},
          "attempts": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/Attempt"
            }
          },
          "events": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/Event"
            }
          },
          "eventsTotal": {
            "type": "integer"
          },
          "costWasted": {
            "type": "number",
            "description": "Part of cost spent on attempts that did not succeed"
          },
          "currency": {
            "type": "string"
          }
        }
      },
      "Node": {
        "type": "object",
        "required": [
          "id",
          "name",
          "state",
          "labels",
          "capacity",
          "allocated",
          "free",
          "gpuIndices",
          "runningTasks",
          "lastHeartbeat",
          "registeredAt"
        ],
        "properties": {
          "id": {
            "type": "string"
          },
          "name": {
            "type": "string"
          },
          "state": {
            "type": "string",
            "enum": [
              "ready",
              "cordoned",
              "draining",
              "down"
            ]
          },
          "labels": {
            "type": "object",
            "additionalProperties": {
              "type": "string"
            }
          },
          "capacity": {
            "$ref": "#/components/schemas/Resources"
          },
          "allocated": {
            "$ref": "#/components/schemas/Resources"
          },
          "free": {
            "$ref": "#/components/schemas/Resources"
          },
          "gpuIndices": {
            "type": "array",
            "items": {
              "type": "integer"
            }
          },
          "runningTasks": {
            "type": "integer"
          },
          "lastHeartbeat": {
            "type": "string",
            "format": "date-time"
          },
          "registeredAt": {
            "type": "string",
            "format": "date-time"
          },
          "drainDeadline": {
            "type": "string",
            "format": "date-time"
          },
          "prices": {
            "$ref": "#/components/schemas/Prices"
          }
        }
      },
      "TokenCreateRequest": {
        "type": "object",
        "required": [
          "team",
          "role"
        ],
        "properties": {
          "team": {
            "type": "string"
          },
          "role": {
            "type": "string",
            "enum": [
              "submitter",
              "reader"
            ]
          }
        }
      },
      "Token": {
        "type": "object",
        "required": [
          "id",
          "role",
          "createdAt",
          "createdBy"
        ],
        "properties": {
          "id": {
            "type": "string"
          },
          "role": {
            "type": "string",
            "enum": [
              "admin",
              "submitter",
              "reader",
              "join"
            ]
          },
          "team": {
            "type": "string"
          },
          "createdAt": {
            "type": "string",
            "format": "date-time"
          },
          "createdBy": {
            "type": "string"
          },
          "revokedAt": {
            "type": "string",
            "format": "date-time"
          }
        }
      },
      "TokenCreated": {
        "type": "object",
        "required": [
          "token",
          "info"
        ],
        "properties": {
          "token": {
            "type": "string"
          },
          "info": {
            "$ref": "#/components/schemas/Token"
          }
        }
      },
      "Prices": {
        "type": "object",
        "required": [
          "cpuHour",
          "memoryGiBHour",
          "gpuHour"
        ],
        "properties": {
          "cpuHour": {
            "type": "number",
            "minimum": 0
          },
          "memoryGiBHour": {
            "type": "number",
            "minimum": 0
          },
          "gpuHour": {
            "type": "number",
            "minimum": 0
          }
        }
      },
      "GPU": {
        "type": "object",
        "required": [
          "index",
          "name"
        ],
        "properties": {
          "index": {
            "type": "integer",
            "minimum": 0
          },
          "name": {
            "type": "string"
          },
          "memoryMiB": {
            "type": "integer"
          }
        }
      },
      "RegisterRequest": {
        "type": "object",
        "required": [
          "name",
          "cpu",
          "memory",
          "gpus",
          "labels",
          "prices"
        ],
        "properties": {
          "name": {
            "type": "string"
          },
          "cpu": {
            "type": "number",
            "exclusiveMinimum": 0
          },
          "memory": {
            "type": "integer",
            "minimum": 1
          },
          "gpus": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/GPU"
            }
          },
          "labels": {
            "type": "object",
            "additionalProperties": {
              "type": "string"
            }
          },
          "prices": {
            "$ref": "#/components/schemas/Prices"
          }
        }
      },
      "RegisterResponse": {
        "type": "object",
        "required": [
          "nodeId",
          "token",
          "heartbeatIntervalMs",
          "leaseTtlMs"
        ],
        "properties": {
          "nodeId": {
            "type": "string"
          },
          "token": {
            "type": "string"
          },
          "heartbeatIntervalMs": {
            "type": "integer"
          },
          "leaseTtlMs": {
            "type": "integer"
          }
        }
      },
      "PollRequest": {
        "type": "object",
        "required": [
          "maxLeases",
          "waitMs"
        ],
        "properties": {
          "maxLeases": {
            "type": "integer",
            "minimum": 0
          },
          "waitMs": {
            "type": "integer",
            "minimum": 0
          }
        }
      },
      "Lease": {
        "type": "object",
        "required": [
          "attemptId",
          "jobId",
          "jobName",
          "team",
          "task",
          "taskCount",
          "attempt",
          "command",
          "env",
          "resources",
          "gpus"
        ],
        "properties": {
          "attemptId": {
            "type": "string"
          },
          "jobId": {
            "type": "string"
          },
          "jobName": {
            "type": "string"
          },
          "team": {
            "type": "string"
          },
          "task": {
            "type": "integer"
          },
          "taskCount": {
            "type": "integer"
          },
          "attempt": {
            "type": "integer"
          },
          "command": {
            "type": "array",
            "items": {
              "type": "string"
            }
          },
          "env": {
            "type": "object",
            "additionalProperties": {
              "type": "string"
            }
          },
          "resources": {
            "$ref": "#/components/schemas/Resources"
          },
          "gpus": {
            "type": "array",
            "items": {
              "type": "integer"
            }
          },
          "timeoutMs": {
            "type": "integer"
          },
          "secretEnv": {
            "type": "array",
            "items": {
              "type": "string"
            }
          }
        }
      },
      "PollResponse": {
        "type": "object",
        "required": [
          "leases",
          "cancel"
        ],
        "properties": {
          "leases": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/Lease"
            }
          },
          "cancel": {
            "type": "array",
            "items": {
              "type": "string"
            }
          }
        }
      },
      "HeartbeatRequest": {
        "type": "object",
        "required": [
          "attempts"
        ],
        "properties": {
          "attempts": {
            "type": "array",
            "items": {
              "type": "object",
              "required": [
                "attemptId"
              ],
              "properties": {
                "attemptId": {
                  "type": "string"
                },
                "progress": {}
              }
            }
          }
        }
      },
      "HeartbeatResponse": {
        "type": "object",
        "required": [
          "unknown",
          "cancel"
        ],
        "properties": {
          "unknown": {
            "type": "array",
            "items": {
              "type": "string"
            }
          },
          "cancel": {
            "type": "array",
            "items": {
              "type": "string"
            }
          }
        }
      },
      "Report": {
        "type": "object",
        "required": [
          "attemptId",
          "outcome"
        ],
        "properties": {
          "attemptId": {
            "type": "string"
          },
          "outcome": {
            "type": "string",
            "enum": [
              "succeeded",
              "failed",
              "timed_out",
              "cancelled",
              "preempted"
            ]
          },
          "exitCode": {
            "type": "integer"
          },
          "signal": {
            "type": "integer"
          },
          "wallMs": {
            "type": "integer"
          },
          "peakRssBytes": {
            "type": "integer"
          },
          "progress": {},
          "reason": {
            "type": "string"
          }
        }
      },
      "ReportBatch": {
        "type": "object",
        "required": [
          "reports"
        ],
        "properties": {
          "reports": {
            "type": "array",
            "maxItems": 10000,
            "items": {
              "$ref": "#/components/schemas/Report"
            }
          },
          "maxLeases": {
            "type": "integer",
            "minimum": 0,
            "description": "Also lease up to this many tasks to the agent (the capacity the reports freed), in the same commit; they come back in `leases`."
          }
        }
      },
      "ReportResult": {
        "type": "object",
        "required": [
          "attemptId",
          "status"
        ],
        "properties": {
          "attemptId": {
            "type": "string"
          },
          "status": {
            "type": "string",
            "enum": [
              "accepted",
              "duplicate",
              "stale",
              "forbidden",
              "invalid"
            ]
          },
          "detail": {
            "type": "string"
          }
        }
      },
      "ReportResults": {
        "type": "object",
        "required": [
          "results"
        ],
        "properties": {
          "results": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/ReportResult"
            }
          },
          "leases": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/Lease"
            },
            "description": "New leases, when the batch set `maxLeases`."
          }
        }
      },
      "Status": {
        "type": "object",
        "required": [
          "status"
        ],
        "properties": {
          "status": {
            "type": "string"
          }
        }
      },
      "QuotaRequest": {
        "type": "object",
        "additionalProperties": false,
        "description": "Absent limits are unlimited; budget is money per calendar period (UTC)",
        "properties": {
          "cpu": {
            "oneOf": [
              {
                "type": "number",
                "exclusiveMinimum": 0
              },
              {
                "type": "string"
              }
            ]
          },
          "memory": {
            "oneOf": [
              {
                "type": "integer",
                "minimum": 1
              },
              {
                "type": "string"
              }
            ]
          },
          "gpu": {
            "type": "integer",
            "minimum": 0
          },
          "running": {
            "type": "integer",
            "minimum": 0
          },
          "weight": {
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": 1000
          },
          "budget": {
            "oneOf": [
              {
                "type": "string",
                "description": "AMOUNT/PERIOD, e.g. 500/month"
              },
              {
                "type": "object",
                "additionalProperties": false,
                "required": [
                  "amount",
                  "period"
                ],
                "properties": {
                  "amount": {
                    "oneOf": [
                      {
                        "type": "number",
                        "minimum": 0
                      },
                      {
                        "type": "string"
                      }
                    ]
                  },
                  "period": {
                    "type": "string",
                    "enum": [
                      "day",
                      "week",
                      "month"
                    ]
                  },
                  "softPercent": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 100
                  },
                  "hardStop": {
                    "type": "boolean"
                  }
                }
              }
            ]
          }
        }
      },
      "QuotaAmounts": {
        "type": "object",
        "required": [
          "cpu",
          "memory",
          "gpu",
          "tasks"
        ],
        "properties": {
          "cpu": {
            "type": "number"
          },
          "memory": {
            "type": "integer"
          },
          "gpu": {
            "type": "integer"
          },
          "tasks": {
            "type": "integer"
          }
        }
      },
      "Quota": {
        "type": "object",
        "required": [
          "team",
          "limit",
          "weight",
          "isDefault",
          "inUse",
          "queued"
        ],
        "properties": {
          "team": {
            "type": "string"
          },
          "weight": {
            "type": "number"
          },
          "isDefault": {
            "type": "boolean"
          },
          "limit": {
            "type": "object",
            "properties": {
              "cpu": {
                "type": "number"
              },
              "memory": {
                "type": "integer"
              },
              "gpu": {
                "type": "integer"
              },
              "running": {
                "type": "integer"
              }
            }
          },
          "inUse": {
            "$ref": "#/components/schemas/QuotaAmounts"
          },
          "queued": {
            "$ref": "#/components/schemas/QuotaAmounts"
          },
          "budget": {
            "$ref": "#/components/schemas/Budget"
          }
        }
      },
      "Budget": {
        "type": "object",
        "required": [
          "amount",
          "period",
          "softPercent",
          "hardStop",
          "spent",
          "remaining",
          "periodStart",
          "resets",
          "currency"
        ],
        "properties": {
          "amount": {
            "type": "number",
            "description": "An amount in the cluster's currency (exact, up to 6 decimals)"
          },
          "period": {
            "type": "string",
            "enum": [
              "day",
              "week",
              "month"
            ]
          },
          "softPercent": {
            "type": "integer"
          },
          "hardStop": {
            "type": "boolean"
          },
          "spent": {
            "type": "number",
            "description": "An amount in the cluster's currency (exact, up to 6 decimals)"
          },
          "remaining": {
            "type": "number",
            "description": "An amount in the cluster's currency (exact, up to 6 decimals)"
          },
          "periodStart": {
            "type": "string",
            "format": "date"
          },
          "resets": {
            "type": "string",
            "format": "date"
          },
          "currency": {
            "type": "string"
          }
        }
      },
      "CostLine": {
        "type": "object",
        "required": [
          "key",
          "succeeded",
          "wasted",
          "running",
          "total",
          "attempts"
        ],
        "properties": {
          "key": {
            "type": "string",
            "description": "Team, job id, node id or day; `total` for the sum"
          },
          "name": {
            "type": "string"
          },
          "team": {
            "type": "string"
          },
          "succeeded": {
            "type": "number",
            "description": "An amount in the cluster's currency (exact, up to 6 decimals)"
          },
          "wasted": {
            "type": "number",
            "description": "An amount in the cluster's currency (exact, up to 6 decimals)"
          },
          "running": {
            "type": "number",
            "description": "An amount in the cluster's currency (exact, up to 6 decimals)"
          },
          "total": {
            "type": "number",
            "description": "An amount in the cluster's currency (exact, up to 6 decimals)"
          },
          "attempts": {
            "type": "integer"
          }
        }
      },
      "CostReport": {
        "type": "object",
        "required": [
          "by",
          "since",
          "until",
          "currency",
          "lines",
          "total"
        ],
        "properties": {
          "by": {
            "type": "string",
            "enum": [
              "team",
              "job",
              "node",
              "day"
            ]
          },
          "since": {
            "type": "string",
            "format": "date-time"
          },
          "until": {
            "type": "string",
            "format": "date-time"
          },
          "currency": {
            "type": "string"
          },
          "lines": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/CostLine"
            }
          },
          "total": {
            "$ref": "#/components/schemas/CostLine"
          }
        }
      },
      "CostEstimate": {
        "type": "object",
        "required": [
          "name",
          "team",
          "tasks",
          "basis",
          "currency",
          "admitted"
        ],
        "properties": {
          "name": {
            "type": "string"
          },
          "team": {
            "type": "string"
          },
          "tasks": {
            "type": "integer"
          },
          "estimate": {
            "type": "number",
            "description": "An amount in the cluster's currency (exact, up to 6 decimals)"
          },
          "perTask": {
            "type": "number",
            "description": "An amount in the cluster's currency (exact, up to 6 decimals)"
          },
          "duration": {
            "type": "string"
          },
          "basis": {
            "type": "string"
          },
          "currency": {
            "type": "string"
          },
          "budget": {
            "$ref": "#/components/schemas/Budget"
          },
          "admitted": {
            "type": "boolean"
          },
          "refusal": {
            "type": "string"
          }
        }
      },
      "Alert": {
        "type": "object",
        "required": [
          "team",
          "level",
          "at",
          "periodStart",
          "spent",
          "budget",
          "message"
        ],
        "properties": {
          "team": {
            "type": "string"
          },
          "level": {
            "type": "string",
            "enum": [
              "soft",
              "exhausted"
            ]
          },
          "at": {
            "type": "string",
            "format": "date-time"
          },
          "periodStart": {
            "type": "string",
            "format": "date"
          },
          "spent": {
            "type": "number",
            "description": "An amount in the cluster's currency (exact, up to 6 decimals)"
          },
          "budget": {
            "type": "number",
            "description": "An amount in the cluster's currency (exact, up to 6 decimals)"
          },
          "message": {
            "type": "string"
          }
        }
      },
      "LedgerEntry": {
        "type": "object",
        "required": [
          "id",
          "attemptId",
          "team",
          "jobId",
          "nodeId",
          "resource",
          "quantity",
          "rate",
          "amount",
          "from",
          "to"
        ],
        "properties": {
          "id": {
            "type": "string"
          },
          "attemptId": {
            "type": "string"
          },
          "team": {
            "type": "string"
          },
          "jobId": {
            "type": "string"
          },
          "nodeId": {
            "type": "string"
          },
          "resource": {
            "type": "string",
            "enum": [
              "cpu",
              "memory",
              "gpu"
            ]
          },
          "quantity": {
            "type": "number",
            "description": "Cores, GiB or GPUs"
          },
          "rate": {
            "type": "number",
            "description": "Per cpu-hour, GiB-hour or gpu-hour"
          },
          "amount": {
            "type": "number",
            "description": "An amount in the cluster's currency (exact, up to 6 decimals)"
          },
          "from": {
            "type": "string",
            "format": "date-time"
          },
          "to": {
            "type": "string",
            "format": "date-time"
          },
          "reverses": {
            "type": "string"
          },
          "note": {
            "type": "string"
          }
        }
      },
      "LedgerReverseRequest": {
        "type": "object",
        "required": [
          "reason"
        ],
        "properties": {
          "reason": {
            "type": "string",
            "minLength": 1,
            "maxLength": 1000
          }
        }
      }
    },
    "responses": {
      "BadRequest": {
        "description": "Bad input; `field` names what is wrong",
        "content": {
          "application/problem+json": {
            "schema": {
              "$ref": "#/components/schemas/Problem"
            }
          }
        }
      },
      "Unauthorized": {
        "description": "Missing, forged or revoked token",
        "content": {
          "application/problem+json": {
            "schema": {
              "$ref": "#/components/schemas/Problem"
            }
          }
        }
      },
      "Forbidden": {
        "description": "The token's role may not do this",
        "content": {
          "application/problem+json": {
            "schema": {
              "$ref": "#/components/schemas/Problem"
            }
          }
        }
      },
      "NotFound": {
        "description": "No such object (or not visible to this token)",
        "content": {
          "application/problem+json": {
            "schema": {
              "$ref": "#/components/schemas/Problem"
            }
          }
        }
      },
      "Conflict": {
        "description": "Conflict: the object's state does not allow it (a stale lease, a finished job)",
        "content": {
          "application/problem+json": {
            "schema": {
              "$ref": "#/components/schemas/Problem"
            }
          }
        }
      },
      "ContentTooLarge": {
        "description": "Request body over the limit",
        "content": {
          "application/problem+json": {
            "schema": {
              "$ref": "#/components/schemas/Problem"
            }
          }
        }
      }
    }
  },
  "paths": {
    "/healthz": {
      "get": {
        "summary": "Liveness; needs no token",
        "operationId": "health",
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Status"
                }
              }
            }
          }
        },
        "security": []
      }
    },
    "/v1/agents/heartbeat": {
      "post": {
        "summary": "The agent is alive and holds these attempts (agent)",
        "operationId": "heartbeat",
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/HeartbeatResponse"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          }
        },
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/HeartbeatRequest"
              }
            }
          }
        }
      }
    },
    "/v1/agents/poll": {
      "post": {
        "summary": "Long-poll for leases and cancellations (agent)",
        "operationId": "poll",
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/PollResponse"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          }
        },
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/PollRequest"
              }
            }
          }
        }
      }
    },
    "/v1/agents/register": {
      "post": {
        "summary": "Register an agent (join token); returns its own token",
        "operationId": "registerAgent",
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/RegisterResponse"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          }
        },
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/RegisterRequest"
              }
            }
          }
        }
      }
    },
    "/v1/agents/reports": {
      "post": {
        "summary": "Outcomes of ended attempts, each with its own verdict (agent)",
        "operationId": "reports",
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/ReportResults"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          }
        },
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/ReportBatch"
              }
            }
          }
        }
      }
    },
    "/v1/alerts": {
      "get": {
        "summary": "Budget alerts, oldest first",
        "operationId": "listAlerts",
        "parameters": [
          {
            "name": "team",
            "in": "query",
            "required": false,
            "description": "One team (team tokens: their own only)",
            "schema": {
              "type": "string"
            }
          },
          {
            "name": "limit",
            "in": "query",
            "required": false,
            "schema": {
              "type": "integer",
              "minimum": 1,
              "maximum": 10000
            }
          }
        ],
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "type": "array",
                  "items": {
                    "$ref": "#/components/schemas/Alert"
                  }
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          }
        }
      }
    },
    "/v1/attempts/{id}/logs": {
      "post": {
        "summary": "Append output of a leased attempt at `offset` (agent)",
        "operationId": "uploadLog",
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Status"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "409": {
            "$ref": "#/components/responses/Conflict"
          },
          "413": {
            "$ref": "#/components/responses/ContentTooLarge"
          }
        },
        "requestBody": {
          "required": true,
          "content": {
            "application/octet-stream": {
              "schema": {
                "type": "string",
                "format": "binary"
              }
            }
          }
        },
        "parameters": [
          {
            "name": "id",
            "in": "path",
            "required": true,
            "description": "Attempt id",
            "schema": {
              "type": "string"
            }
          },
          {
            "name": "offset",
            "in": "query",
            "required": false,
            "description": "Byte offset of this chunk",
            "schema": {
              "type": "integer",
              "minimum": 0
            }
          }
        ]
      }
    },
    "/v1/attempts/{id}/report": {
      "post": {
        "summary": "Report one attempt; 409 when its lease is gone (agent)",
        "operationId": "reportOne",
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/ReportResult"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "409": {
            "$ref": "#/components/responses/Conflict"
          }
        },
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/Report"
              }
            }
          }
        },
        "parameters": [
          {
            "name": "id",
            "in": "path",
            "required": true,
            "description": "Attempt id",
            "schema": {
              "type": "string"
            }
          }
        ]
      }
    },
    "/v1/cost": {
      "get": {
        "summary": "Ledger totals grouped by team, job, node or day: succeeded, wasted and running spend",
        "operationId": "costReport",
        "parameters": [
          {
            "name": "by",
            "in": "query",
            "required": false,
            "schema": {
              "type": "string",
              "enum": [
                "team",
                "job",
                "node",
                "day"
              ]
            }
          },
          {
            "name": "since",
            "in": "query",
            "required": false,
            "schema": {
              "type": "string",
              "description": "A date (2026-11-26, UTC midnight) or an RFC 3339 time"
            }
          },
          {
            "name": "until",
            "in": "query",
            "required": false,
            "description": "A date includes that whole day",
            "schema": {
              "type": "string",
              "description": "A date (2026-11-26, UTC midnight) or an RFC 3339 time"
            }
          },
          {
            "name": "team",
            "in": "query",
            "required": false,
            "description": "One team (team tokens: their own only)",
            "schema": {
              "type": "string"
            }
          }
        ],
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/CostReport"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          }
        }
      }
    },
    "/v1/jobs": {
      "post": {
        "summary": "Submit a job (admin, or a submitter of the job's team); with dryRun=true, estimate its cost instead",
        "operationId": "submitJob",
        "responses": {
          "201": {
            "description": "Accepted and stored",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Job"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "413": {
            "$ref": "#/components/responses/ContentTooLarge"
          },
          "422": {
            "description": "Valid, but no node could ever run it",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "200": {
            "description": "dryRun=true: the estimate; nothing was stored",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/CostEstimate"
                }
              }
            }
          },
          "402": {
            "description": "The team's budget is exhausted, or the job's estimate is more than what is left (the detail gives both)",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          }
        },
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/JobSpec"
              }
            }
          }
        },
        "parameters": [
          {
            "name": "dryRun",
            "in": "query",
            "required": false,
            "description": "true: answer the cost estimate and whether the job would be admitted; store nothing",
            "schema": {
              "type": "string",
              "enum": [
                "true",
                "false"
              ]
            }
          }
        ]
      },
      "get": {
        "summary": "List jobs, newest first (team tokens see their team's only)",
        "operationId": "listJobs",
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "type": "array",
                  "items": {
                    "$ref": "#/components/schemas/Job"
                  }
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          }
        },
        "parameters": [
          {
            "name": "team",
            "in": "query",
            "required": false,
            "description": "Only this team's jobs",
            "schema": {
              "type": "string"
            }
          },
          {
            "name": "state",
            "in": "query",
            "required": false,
            "description": "Only jobs in this state",
            "schema": {
              "type": "string",
              "enum": [
                "queued",
                "running",
                "succeeded",
                "failed",
                "cancelled"
              ]
            }
          },
          {
            "name": "limit",
            "in": "query",
            "required": false,
            "description": "At most this many (default 1000)",
            "schema": {
              "type": "integer",
              "minimum": 1,
              "maximum": 100000
            }
          }
        ]
      }
    },
    "/v1/jobs/{id}": {
      "get": {
        "summary": "One job with attempts and recent events",
        "operationId": "getJob",
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Job"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          }
        },
        "parameters": [
          {
            "name": "id",
            "in": "path",
            "required": true,
            "description": "Job id",
            "schema": {
              "type": "string",
              "pattern": "^[0-9]+$"
            }
          },
          {
            "name": "events",
            "in": "query",
            "required": false,
            "description": "Recent events to include (default 50)",
            "schema": {
              "type": "integer",
              "minimum": 0,
              "maximum": 100000
            }
          },
          {
            "name": "attempts",
            "in": "query",
            "required": false,
            "description": "Include attempts (default true)",
            "schema": {
              "type": "string",
              "enum": [
                "true",
                "false"
              ]
            }
          }
        ]
      }
    },
    "/v1/jobs/{id}/cancel": {
      "post": {
        "summary": "Cancel a job",
        "operationId": "cancelJob",
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Job"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          },
          "409": {
            "$ref": "#/components/responses/Conflict"
          }
        },
        "parameters": [
          {
            "name": "id",
            "in": "path",
            "required": true,
            "description": "Job id",
            "schema": {
              "type": "string",
              "pattern": "^[0-9]+$"
            }
          }
        ]
      }
    },
    "/v1/jobs/{id}/logs": {
      "get": {
        "summary": "Output of a task's attempt (the latest unless `attempt`)",
        "operationId": "getLogs",
        "responses": {
          "200": {
            "description": "Raw output bytes from `offset`; headers Drover-Attempt, Drover-Next-Offset, Drover-Attempt-Finished, Drover-Task-Finished",
            "content": {
              "application/octet-stream": {
                "schema": {
                  "type": "string",
                  "format": "binary"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          }
        },
        "parameters": [
          {
            "name": "id",
            "in": "path",
            "required": true,
            "description": "Job id",
            "schema": {
              "type": "string",
              "pattern": "^[0-9]+$"
            }
          },
          {
            "name": "task",
            "in": "query",
            "required": false,
            "description": "Shard index (default 0)",
            "schema": {
              "type": "integer",
              "minimum": 0
            }
          },
          {
            "name": "attempt",
            "in": "query",
            "required": false,
            "description": "Attempt number",
            "schema": {
              "type": "integer",
              "minimum": 1,
              "maximum": 10000
            }
          },
          {
            "name": "offset",
            "in": "query",
            "required": false,
            "description": "Byte offset to read from",
            "schema": {
              "type": "integer",
              "minimum": 0
            }
          }
        ]
      }
    },
    "/v1/ledger": {
      "get": {
        "summary": "Cost ledger rows, oldest first",
        "operationId": "listLedger",
        "parameters": [
          {
            "name": "attempt",
            "in": "query",
            "required": false,
            "schema": {
              "type": "integer",
              "minimum": 1
            }
          },
          {
            "name": "team",
            "in": "query",
            "required": false,
            "description": "One team (team tokens: their own only)",
            "schema": {
              "type": "string"
            }
          },
          {
            "name": "after",
            "in": "query",
            "required": false,
            "description": "Rows after this id",
            "schema": {
              "type": "integer",
              "minimum": 0
            }
          },
          {
            "name": "limit",
            "in": "query",
            "required": false,
            "schema": {
              "type": "integer",
              "minimum": 1,
              "maximum": 100000
            }
          }
        ],
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "type": "array",
                  "items": {
                    "$ref": "#/components/schemas/LedgerEntry"
                  }
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          }
        }
      }
    },
    "/v1/ledger/{id}/reverse": {
      "post": {
        "summary": "Correct the ledger (admin): append a row cancelling row id",
        "operationId": "reverseLedgerEntry",
        "parameters": [
          {
            "name": "id",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            }
          }
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/LedgerReverseRequest"
              }
            }
          }
        },
        "responses": {
          "201": {
            "description": "The reversing row",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/LedgerEntry"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "404": {
            "description": "No such ledger entry",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "409": {
            "description": "Already reversed, or itself a reversal",
            "content": {
              "application/problem+json": {
                "schema": {
                  "$ref": "#/components/schemas/Problem"
                }
              }
            }
          },
          "413": {
            "$ref": "#/components/responses/ContentTooLarge"
          }
        }
      }
    },
    "/v1/nodes": {
      "get": {
        "summary": "Nodes with state, capacity and load",
        "operationId": "listNodes",
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "type": "array",
                  "items": {
                    "$ref": "#/components/schemas/Node"
                  }
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          }
        }
      }
    },
    "/v1/nodes/{id}/cordon": {
      "post": {
        "summary": "Stop new leases to a node (admin)",
        "operationId": "cordonNode",
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Node"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          },
          "409": {
            "$ref": "#/components/responses/Conflict"
          }
        },
        "parameters": [
          {
            "name": "id",
            "in": "path",
            "required": true,
            "description": "Node id (n3) or name",
            "schema": {
              "type": "string"
            }
          }
        ]
      }
    },
    "/v1/nodes/{id}/drain": {
      "post": {
        "summary": "Stop new leases; running tasks finish (admin)",
        "operationId": "drainNode",
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Node"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          },
          "409": {
            "$ref": "#/components/responses/Conflict"
          }
        },
        "parameters": [
          {
            "name": "id",
            "in": "path",
            "required": true,
            "description": "Node id (n3) or name",
            "schema": {
              "type": "string"
            }
          },
          {
            "name": "deadline",
            "in": "query",
            "required": false,
            "description": "Requeue what still runs after this long, e.g. 10m",
            "schema": {
              "type": "string"
            }
          }
        ]
      }
    },
    "/v1/nodes/{id}/revoke": {
      "post": {
        "summary": "Revoke a node's agent token; it is down and its tasks requeued (admin)",
        "operationId": "revokeNode",
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Node"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          },
          "409": {
            "$ref": "#/components/responses/Conflict"
          }
        },
        "parameters": [
          {
            "name": "id",
            "in": "path",
            "required": true,
            "description": "Node id (n3) or name",
            "schema": {
              "type": "string"
            }
          }
        ]
      }
    },
    "/v1/nodes/{id}/uncordon": {
      "post": {
        "summary": "Let a node take leases again (admin)",
        "operationId": "uncordonNode",
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Node"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          },
          "409": {
            "$ref": "#/components/responses/Conflict"
          }
        },
        "parameters": [
          {
            "name": "id",
            "in": "path",
            "required": true,
            "description": "Node id (n3) or name",
            "schema": {
              "type": "string"
            }
          }
        ]
      }
    },
    "/v1/openapi.json": {
      "get": {
        "summary": "This document",
        "operationId": "openapi",
        "responses": {
          "200": {
            "description": "OpenAPI 3.1",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object"
                }
              }
            }
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          }
        }
      }
    },
    "/v1/quotas": {
      "get": {
        "summary": "Each team's limit, use and queued demand (team tokens: their own)",
        "operationId": "listQuotas",
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "type": "array",
                  "items": {
                    "$ref": "#/components/schemas/Quota"
                  }
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          }
        }
      }
    },
    "/v1/quotas/{team}": {
      "put": {
        "summary": "Set a team's quota (admin)",
        "operationId": "setQuota",
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Quota"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          }
        },
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/QuotaRequest"
              }
            }
          }
        },
        "parameters": [
          {
            "name": "team",
            "in": "path",
            "required": true,
            "description": "Team name",
            "schema": {
              "type": "string"
            }
          }
        ]
      }
    },
    "/v1/tokens": {
      "post": {
        "summary": "Create a team token (admin); the secret is shown only in this answer",
        "operationId": "createToken",
        "responses": {
          "201": {
            "description": "Created",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/TokenCreated"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          }
        },
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/TokenCreateRequest"
              }
            }
          }
        }
      },
      "get": {
        "summary": "List tokens, never their secrets (admin)",
        "operationId": "listTokens",
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "type": "array",
                  "items": {
                    "$ref": "#/components/schemas/Token"
                  }
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          }
        }
      }
    },
    "/v1/tokens/{id}/revoke": {
      "post": {
        "summary": "Revoke a token (admin)",
        "operationId": "revokeToken",
        "responses": {
          "200": {
            "description": "OK",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Token"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthorized"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          }
        },
        "parameters": [
          {
            "name": "id",
            "in": "path",
            "required": true,
            "description": "Token id (tok-…)",
            "schema": {
              "type": "string"
            }
          }
        ]
      }
    }
  }
}
"""#
}
