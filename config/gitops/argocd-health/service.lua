-- Argo CD health check for ecs-operator.io/Service (an ECS service).
--   Healthy      Ready=True at the current generation: the PRIMARY deployment reached steady state
--   Suspended    as Healthy, but scaled to zero (spec.desiredCount 0, no spec.autoscaling)
--   Degraded     Stalled=True, or the PRIMARY deployment's rolloutState is FAILED (circuit breaker)
--                or a BLUE_GREEN / LINEAR / CANARY deployment waiting on a PAUSE lifecycle hook
--                (Progressing reason LifecycleHookPaused: continue it with the continue-deployment action)
--   Progressing  anything else: no status yet, an unobserved spec, a rollout in progress, a bake
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

local status = obj.status
local generation = obj.metadata.generation

if status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report the service's status"
  return hs
end

if generation ~= nil and status.observedGeneration ~= nil and status.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. generation ..
    " (observed " .. status.observedGeneration .. ")"
  return hs
end

local stalled = condition(status, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(stalled, "The service is stalled")
  return hs
end

local primary = nil
if status.deployments ~= nil then
  for _, d in ipairs(status.deployments) do
    if d.status == "PRIMARY" then
      primary = d
    end
  end
end

if primary ~= nil and primary.rolloutState == "FAILED" then
  hs.status = "Degraded"
  local reason = primary.rolloutStateReason
  if reason == nil or reason == "" then
    reason = "rollout failed"
  end
  hs.message = "Deployment " .. (primary.id or "?") .. " (" .. (primary.taskDefinition or "?") .. "): " .. reason
  return hs
end

local ready = condition(status, "Ready")
local readyCurrent = ready ~= nil and ready.status == "True" and
  (generation == nil or ready.observedGeneration == nil or ready.observedGeneration >= generation)

if readyCurrent then
  local running = status.runningCount or 0
  local desired = status.desiredCount or 0
  local td = status.taskDefinition or (primary ~= nil and primary.taskDefinition) or "?"
  if obj.spec ~= nil and obj.spec.desiredCount == 0 and obj.spec.autoscaling == nil then
    hs.status = "Suspended"
    hs.message = "Scaled to zero (desiredCount 0): " .. td
    return hs
  end
  hs.status = "Healthy"
  hs.message = running .. "/" .. desired .. " tasks running (" .. td .. ")"
  return hs
end

local progressing = condition(status, "Progressing")
if progressing ~= nil and progressing.status == "True" and progressing.reason == "LifecycleHookPaused" then
  hs.status = "Suspended"
  hs.message = describe(progressing, "The deployment waits on a PAUSE lifecycle hook")
  return hs
end

hs.status = "Progressing"
local fallback = "Waiting for the service to reach a steady state"
if primary ~= nil then
  fallback = "Deployment " .. (primary.id or "?") .. " " .. (primary.rolloutState or "IN_PROGRESS") ..
    ": " .. (primary.runningCount or 0) .. "/" .. (primary.desiredCount or 0) .. " tasks running"
end
if progressing ~= nil and progressing.status == "True" then
  hs.message = describe(progressing, fallback)
else
  hs.message = describe(ready, fallback)
end
return hs
