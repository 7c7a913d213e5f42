-- Argo CD resource actions for ecs-operator.io/Service (listed in the UI's resource menu and by
-- `argocd app actions list`). Each action writes a declarative trigger annotation that Git can
-- carry too:
--   force-new-deployment  ecs-operator.io/force-new-deployment = now (like
--                         `aws ecs update-service --force-new-deployment`: replace every task)
--   continue-deployment   ecs-operator.io/continue-deployment = the in-progress deployment's id
--                         (like ContinueServiceDeployment: go on past a PAUSE lifecycle hook)
--   stop-deployment       ecs-operator.io/stop-deployment = the in-progress deployment's id
--                         (like StopServiceDeployment with ROLLBACK: back to the previous revision)
-- Continue and stop are enabled only while the PRIMARY deployment in status.deployments[] has
-- rolloutState IN_PROGRESS. Argo CD runs this without the string and math libraries.
local actions = {}
actions["force-new-deployment"] = { ["disabled"] = false, ["displayName"] = "Force new deployment" }

local inProgress = false
if obj.status ~= nil and obj.status.deployments ~= nil then
  for _, d in ipairs(obj.status.deployments) do
    if d.status == "PRIMARY" and d.rolloutState == "IN_PROGRESS" and d.id ~= nil and d.id ~= "" then
      inProgress = true
    end
  end
end
actions["continue-deployment"] = { ["disabled"] = not inProgress, ["displayName"] = "Continue deployment" }
actions["stop-deployment"] = { ["disabled"] = not inProgress, ["displayName"] = "Stop deployment (roll back)" }
return actions
