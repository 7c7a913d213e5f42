-- Continue the in-progress ECS deployment past a PAUSE lifecycle hook
-- (ContinueServiceDeployment).
-- The annotation names the deployment (status.deployments[].id), so a stale trigger left in
-- Git or on the object never acts on a later deployment.
local id = nil
if obj.status ~= nil and obj.status.deployments ~= nil then
  for _, d in ipairs(obj.status.deployments) do
    if d.status == "PRIMARY" and d.rolloutState == "IN_PROGRESS" and d.id ~= nil and d.id ~= "" then
      id = d.id
    end
  end
end
if id == nil then
  error("no ECS deployment in progress (status.deployments[] has no PRIMARY deployment with rolloutState IN_PROGRESS): nothing to continue", 0)
end
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["ecs-operator.io/continue-deployment"] = id
return obj
