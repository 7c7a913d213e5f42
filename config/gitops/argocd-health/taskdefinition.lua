-- Argo CD health check for ecs-operator.io/TaskDefinition (an ECS task definition family).
--   Healthy      Ready=True at the current generation: the spec is registered as a revision
--   Degraded     Stalled=True or status INVALID: the spec has errors (see the message)
--   Progressing  no status yet, or the current generation is not registered yet
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
if status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to register the first revision"
  return hs
end

local generation = obj.metadata.generation
if generation ~= nil and status.observedGeneration ~= nil and status.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to register generation " .. generation
  return hs
end

local stalled = condition(status, "Stalled")
if (stalled ~= nil and stalled.status == "True") or status.status == "INVALID" then
  hs.status = "Degraded"
  hs.message = describe(stalled, "The task definition is INVALID")
  return hs
end

local ready = condition(status, "Ready")
if ready ~= nil and ready.status == "True" and
  (generation == nil or ready.observedGeneration == nil or ready.observedGeneration >= generation) then
  local family = (obj.spec ~= nil and obj.spec.family) or obj.metadata.name
  hs.status = "Healthy"
  if status.revision ~= nil then
    hs.message = "Revision " .. family .. ":" .. status.revision .. " is " .. (status.status or "ACTIVE")
  else
    hs.message = describe(ready, "Registered")
  end
  return hs
end

hs.status = "Progressing"
hs.message = describe(ready, "Waiting for the revision to be registered")
return hs
