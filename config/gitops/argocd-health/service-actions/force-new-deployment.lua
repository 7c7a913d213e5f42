-- Start a new ECS deployment of the same revision: a new annotation value (the time, UTC) is
-- the trigger (`aws ecs update-service --force-new-deployment`).
local os = require("os")
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["ecs-operator.io/force-new-deployment"] = os.date("!%Y-%m-%dT%H:%M:%SZ")
return obj
