-- Argo CD health check for the channel.csp.dev kinds (PartnerCenterConnection, CustomerPlan,
-- Reseller, Customer). Install it with argocd-cm.yaml (same folder); tested in gopher-lua by
-- tests/argocd.rs.
--   Healthy      Ready=True, and both status.observedGeneration and the Ready condition's
--                observedGeneration equal metadata.generation (the current spec was evaluated)
--   Progressing  no status yet, the status is older than the spec, or Ready=Unknown (in progress;
--                a Customer being provisioned), or a Customer waiting for its existing tenant to
--                accept the reseller relationship (Ready=False, AwaitingAcceptance: a person acts)
--   Degraded     Ready=False for the current spec: a real failure; the message says which and why
--   Degraded     "Deleting: ..." while metadata.deletionTimestamp is set: the object is going away (a
--                connection or plan waits until nothing uses it; the message says what still does)
local hs = {status = "Progressing", message = "Waiting for the operator to evaluate this object"}
local generation = obj.metadata and obj.metadata.generation
local status = obj.status
if obj.metadata ~= nil and obj.metadata.deletionTimestamp ~= nil then
  hs.status = "Degraded"
  hs.message = "Deleting: waiting for the operator to release it"
  if status ~= nil and status.conditions ~= nil then
    for _, c in ipairs(status.conditions) do
      if c.type == "Ready" and c.reason == "Deleting" and c.message ~= nil and c.message ~= "" then
        hs.message = "Deleting: " .. c.message
      end
    end
  end
  return hs
end
if status == nil then
  return hs
end
if generation ~= nil and status.observedGeneration ~= generation then
  hs.message = "The operator has not evaluated the current spec yet (generation " .. tostring(generation) ..
    ", observed " .. tostring(status.observedGeneration) .. ")"
  return hs
end
local ready = nil
if status.conditions ~= nil then
  for _, c in ipairs(status.conditions) do
    if c.type == "Ready" then
      ready = c
    end
  end
end
if ready == nil then
  hs.message = "No Ready condition yet"
  return hs
end
if generation ~= nil and ready.observedGeneration ~= generation then
  hs.message = "The Ready condition is older than the spec (generation " .. tostring(generation) ..
    ", condition " .. tostring(ready.observedGeneration) .. ")"
  return hs
end
local detail = tostring(ready.reason or "")
if ready.message ~= nil and ready.message ~= "" then
  detail = detail .. ": " .. ready.message
end
if ready.status == "True" then
  hs.status = "Healthy"
elseif ready.status == "False" and obj.kind == "Customer" and ready.reason == "AwaitingAcceptance" then
  hs.status = "Progressing"
elseif ready.status == "False" then
  hs.status = "Degraded"
else
  hs.status = "Progressing"
end
hs.message = detail
return hs
