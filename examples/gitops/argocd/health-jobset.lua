-- Argo CD health of a JobSet (jobset.x-k8s.io/v1alpha2), for argocd-cm
-- resource.customizations.health.jobset.x-k8s.io_JobSet. Argo CD knows Jobs itself.
-- Completed → Healthy; Failed → Degraded (with JobSet's reason, e.g. a do-not-retry exit
-- code or the deadline); Suspended (Kueue holds it in the queue) → Suspended; else Progressing.
local hs = { status = "Progressing", message = "waiting for the JobSet controller" }
if obj.status == nil or obj.status.conditions == nil then
  if obj.spec ~= nil and obj.spec.suspend == true then
    hs.status = "Suspended"
    hs.message = "queued: Kueue has not admitted it yet"
  end
  return hs
end
local suspended = nil
for _, c in ipairs(obj.status.conditions) do
  if c.status == "True" then
    if c.type == "Failed" then
      hs.status = "Degraded"
      hs.message = c.message or c.reason or "failed"
      return hs
    elseif c.type == "Completed" then
      hs.status = "Healthy"
      hs.message = c.message or "completed"
      return hs
    elseif c.type == "Suspended" then
      suspended = c
    end
  end
end
if suspended ~= nil or (obj.spec ~= nil and obj.spec.suspend == true) then
  hs.status = "Suspended"
  hs.message = "queued: Kueue has not admitted it yet"
  return hs
end
local restarts = obj.status.restarts or 0
hs.message = "running"
if restarts > 0 then
  hs.message = "running (restarted " .. restarts .. " times)"
end
return hs
