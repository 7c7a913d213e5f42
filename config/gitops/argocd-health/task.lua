-- Argo CD health check for ecs-operator.io/Task (a standalone ECS task, RunTask).
--   Healthy      lastStatus RUNNING, or STOPPED with every essential container exited 0
--   Degraded     Stalled=True, stopCode TaskFailedToStart, or an essential container that
--                exited non-zero (or stopped without an exit code)
--   Progressing  no status yet, PROVISIONING / PENDING / ACTIVATING / DEPROVISIONING
-- Argo CD runs this without the string and math libraries (gopher-lua, Lua 5.1): only base
-- functions, table and the `..` operator are used.
local hs = {}

local function condition(status, kind)
  if status == nil or status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

local function describe(c, fallback)
  if c ~= nil and c.message ~= nil and c.message ~= "" then
    return c.message
  end
  if c ~= nil and c.reason ~= nil and c.reason ~= "" then
    return c.reason
  end
  return fallback
end

-- The first essential container (of any task copy) that stopped unsuccessfully, or nil.
local function failedEssential(status)
  if status.containers == nil then
    return nil
  end
  for _, c in ipairs(status.containers) do
    if c.essential and c.lastStatus == "STOPPED" and c.exitCode ~= 0 then
      return c
    end
  end
  return nil
end

local function containerFailure(c)
  local where = c.name or "?"
  if c.pod ~= nil then
    where = where .. " (pod " .. c.pod .. ")"
  end
  if c.exitCode == nil then
    return "Essential container " .. where .. " stopped without an exit code: " .. (c.reason or "unknown reason")
  end
  local msg = "Essential container " .. where .. " exited with code " .. c.exitCode
  if c.reason ~= nil and c.reason ~= "" then
    msg = msg .. " (" .. c.reason .. ")"
  end
  return msg
end

local status = obj.status
if status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to start the task"
  return hs
end

local generation = obj.metadata.generation
if generation ~= nil and status.observedGeneration ~= nil and status.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. generation
  return hs
end

local stalled = condition(status, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(stalled, status.stoppedReason or "The task failed")
  return hs
end

if status.stopCode == "TaskFailedToStart" then
  hs.status = "Degraded"
  hs.message = "TaskFailedToStart: " .. (status.stoppedReason or "the task could not start")
  return hs
end

local failed = failedEssential(status)
if failed ~= nil then
  hs.status = "Degraded"
  hs.message = containerFailure(failed)
  if status.stopCode ~= nil then
    hs.message = status.stopCode .. ": " .. hs.message
  end
  return hs
end

local last = status.lastStatus
if last == "STOPPED" then
  hs.status = "Healthy"
  hs.message = "Task completed: every essential container exited 0"
  if status.stoppedReason ~= nil and status.stoppedReason ~= "" then
    hs.message = hs.message .. " (" .. status.stoppedReason .. ")"
  end
  return hs
end

if last == "RUNNING" then
  hs.status = "Healthy"
  hs.message = "Task is running (" .. (status.taskDefinition or "?") .. ")"
  return hs
end

hs.status = "Progressing"
local progressing = condition(status, "Progressing")
hs.message = describe(progressing, "Task is " .. (last or "PROVISIONING"))
return hs
