// Azure ML managed online endpoint + deployment for the embedding BYOC image.
// Declarative equivalent of `python -m infra.azureml deploy` (infra/azureml/plan.py builds the same
// REST bodies): environment version with inference_config, optional model version, endpoint,
// deployment (request settings, probes sized for model load), then traffic (traffic.bicep), then an
// optional Azure Monitor autoscale setting on the deployment.
//
//   az deployment group create -g <rg> -f infra/azureml/main.bicep -p @infra/azureml/main.parameters.example.json
//
// The workspace must already exist in this resource group. No secrets are parameters here.
//
// Re-running: `currentTraffic` is required on purpose. This template PUTs the endpoint, and a PUT with
// empty traffic sets every deployment's share to 0 until traffic.bicep runs (after the deployment has
// updated, minutes later), so each run must say what is live now: {} for a new endpoint, for example
// {"blue": 100} when updating blue in place (`az ml online-endpoint show -n <endpoint> --query traffic`).
// `currentInstanceCount` is required for the same reason: the deployment PUT sets its capacity, so with autoscale
// a re-run keeps the count autoscale reached (0 for a new deployment; `az ml online-deployment show -e <endpoint>
// -n <deployment> --query instance_count`) instead of resetting the fleet to instanceCount.
//
// AcrPull (imageRegistryName): the role assignment is created just before the deployment, and Azure RBAC
// can take minutes to propagate. Bicep cannot wait; the deployment's VM provisioning usually covers the
// lag, and if the image pull still fails, run the same command again: the assignment then exists, and the
// deployment is updated in place (see docs/guides/azureml.md).

metadata description = 'Azure ML managed online endpoint for the Jina/OpenAI-compatible embedding container.'

targetScope = 'resourceGroup'

@description('Existing Azure ML workspace (same resource group).')
param workspaceName string

@description('Region; empty (default): the workspace\'s region, as the SDK uses. Managed online endpoints live in their workspace\'s region.')
param location string = ''

@description('Online endpoint name: 3-32 chars, letter first, letters/digits/-; unique within the region.')
@minLength(3)
@maxLength(32)
param endpointName string

@description('Deployment name inside the endpoint (blue/green).')
@minLength(3)
@maxLength(32)
param deploymentName string = 'blue'

@description('Container image pinned by tag or digest, e.g. myregistry.azurecr.io/jina-embedding-serving:0.1.0.')
param image string

@description('Environment asset name and version. Versions are immutable: bump the version with a new image.')
param environmentName string = 'jina-embedding-serving'
param environmentVersion string = '1'

@description('Model folder to register (azureml://... or https://... URI); mounted under AZUREML_MODEL_DIR. Empty: no registration. A short azureml://datastores/<ds>/paths/<p> URI is expanded to the workspace\'s long form, as the SDK does.')
param modelUri string = ''
@description('Model asset name: letters, digits, - and _ (no dots); up to 255 characters.')
param modelName string = 'embedding-model'
param modelVersion string = '1'

@description('Existing model asset id (ARM id or azureml://registries/...) used when modelUri is empty. Both empty: the image default model.')
param modelId string = ''

@description('VM SKU; needs quota for its family in the region.')
param instanceType string = 'Standard_NC24ads_A100_v4'

@description('Instances (with autoscaling: the starting and default count). Azure allows 50 per deployment by default; quota is needed for ceil(1.2 x count) except on the exempt A100/ND SKUs.')
@minValue(1)
@maxValue(50)
param instanceCount int = 1

@description('Required: the deployment\'s live instance count, 0 when it does not exist yet. With autoscale a re-run keeps it (within the autoscale bounds) instead of resetting the fleet to instanceCount; ignored without autoscale.')
@minValue(0)
param currentInstanceCount int

@description('Container contract (container/, inference/settings.py).')
param port int = 8080
param livenessRoute string = '/health/live'
param readinessRoute string = '/ping'
param scoringRoute string = '/invocations'

@description('Scoring timeout; managed online endpoints allow at most 180 s.')
@minValue(1)
@maxValue(180)
param requestTimeoutSeconds int = 90

@description('In-flight requests per instance; the server batches them (threads x workers).')
@minValue(1)
@maxValue(1000)
param maxConcurrentRequestsPerInstance int = 32

@description('Longest expected start-up: model download, load and warm-up. Sizes the probes.')
@minValue(30)
@maxValue(7200)
param modelLoadTimeoutSeconds int = 900

@minValue(1)
@maxValue(300)
param probePeriodSeconds int = 10

@minValue(1)
@maxValue(60)
param probeTimeoutSeconds int = 5

@allowed([
  'Key'
  'AMLToken'
  'AADToken'
])
param authMode string = 'Key'

@description('Required: the traffic live on the endpoint now, kept while the deployment rolls out. {} for a new endpoint; e.g. {"blue": 100} when updating blue in place or adding green. Empty on an existing endpoint takes it to 0% until the rollout ends.')
param currentTraffic object

@description('Traffic once the deployment is healthy; empty: 100% to deploymentName. Shares add up to 100.')
param traffic object = {}

@allowed([
  'Enabled'
  'Disabled'
])
param publicNetworkAccess string = 'Enabled'

@description('Legacy network isolation of the deployment. Empty (default): not sent. Leave empty in a workspace with a managed virtual network; it cannot change after creation.')
@allowed([
  ''
  'Enabled'
  'Disabled'
])
param egressPublicNetworkAccess string = ''

param appInsightsEnabled bool = false

@description('Container environment (EMB_* settings). Plain text: never put secrets here.')
param environmentVariables object = {}

@description('ACR (same resource group) to grant the endpoint identity AcrPull on; empty when the image is in the workspace registry.')
param imageRegistryName string = ''

param tags object = {
  app: 'jina-embedding-serving'
}

// Autoscale (Azure Monitor autoscale setting on the deployment); the same fields as `autoscaling` in the
// Python config (infra/azureml/config.py, AzureAutoscaleConfig).
@description('Autoscale upper bound; 0 (default): no autoscale, a fixed instanceCount.')
@minValue(0)
@maxValue(50)
param autoscaleMaxInstances int = 0

@minValue(1)
@maxValue(50)
param autoscaleMinInstances int = 1

@description('Deployment metric to scale on; empty: GpuUtilizationPercentage on N-series (GPU) SKUs, CpuUtilizationPercentage otherwise.')
@allowed([
  ''
  'CpuUtilizationPercentage'
  'GpuUtilizationPercentage'
  'RequestLatency_P50'
  'RequestLatency_P90'
  'RequestLatency_P95'
  'RequestLatency_P99'
])
param autoscaleMetric string = ''

@description('Scale out while the metric average is above this (percent, or milliseconds for latency).')
@minValue(1)
param autoscaleTargetValue int = 70

@description('Scale in while the metric average is below this; 0: half of autoscaleTargetValue.')
@minValue(0)
param autoscaleScaleInValue int = 0

@description('Instances added or removed per action.')
@minValue(1)
@maxValue(10)
param autoscaleStep int = 1

@minValue(300)
@maxValue(43200)
param autoscaleWindowSeconds int = 300

@minValue(60)
@maxValue(604800)
param autoscaleScaleOutCooldownSeconds int = 600

@minValue(60)
@maxValue(604800)
param autoscaleScaleInCooldownSeconds int = 900

var resourceDescription = 'Jina/OpenAI-compatible embedding service (BYOC image).'
var deployLocation = empty(location) ? workspace.location : location
var registerModel = !empty(modelUri)
// As azure-ai-ml's resolve_short_datastore_url (what MLClient sends): a datastore URI, short
// (azureml://datastores/<ds>/paths/<p>) or long, becomes this workspace's long form
// azureml://subscriptions/<sub>/resourcegroups/<rg>/workspaces/<ws>/datastores/<ds>/paths/<p>.
// Other URIs (https://, azureml://jobs/...) are sent unchanged.
var datastoreUriPrefix = 'azureml://datastores/'
var datastoresSegment = '/datastores/'
var shortDatastoreUri = startsWith(modelUri, datastoreUriPrefix) && contains(modelUri, '/paths/')
var longDatastoreUri = startsWith(modelUri, 'azureml://subscriptions/') && contains(modelUri, datastoresSegment) && contains(modelUri, '/paths/')
var datastorePath = shortDatastoreUri ? substring(modelUri, length(datastoreUriPrefix)) : (longDatastoreUri ? substring(modelUri, indexOf(modelUri, datastoresSegment) + length(datastoresSegment)) : '')
var subscriptionId = subscription().subscriptionId
var resourceGroupName = resourceGroup().name
var registeredModelUri = empty(datastorePath) ? modelUri : 'azureml://subscriptions/${subscriptionId}/resourcegroups/${resourceGroupName}/workspaces/${workspaceName}/datastores/${datastorePath}'
var registeredModelId = resourceId('Microsoft.MachineLearningServices/workspaces/models/versions', workspaceName, modelName, modelVersion)
var deploymentModel = registerModel ? registeredModelId : modelId
// Same sizing as plan.probe_settings: readiness covers the whole load window; a liveness probe on a
// model-gated route (/ping) starts only after it, so slow loads are not killed but hangs are.
var readinessFailureThreshold = max(3, (modelLoadTimeoutSeconds + probePeriodSeconds - 1) / probePeriodSeconds)
var livenessInitialDelay = (livenessRoute == '/health/live') ? 10 : modelLoadTimeoutSeconds
var finalTraffic = empty(traffic) ? { '${deploymentName}': 100 } : traffic
var acrPullRoleId = '7f951dda-4ed3-4680-a7ca-43fe172d538d'
var autoscaleEnabled = autoscaleMaxInstances > 0
var gpuSku = startsWith(toLower(instanceType), 'standard_n')
var defaultAutoscaleMetric = gpuSku ? 'GpuUtilizationPercentage' : 'CpuUtilizationPercentage'
var autoscaleMetricName = empty(autoscaleMetric) ? defaultAutoscaleMetric : autoscaleMetric
var autoscaleScaleInThreshold = (autoscaleScaleInValue > 0) ? autoscaleScaleInValue : autoscaleTargetValue / 2
var autoscaleName = '${endpointName}-${deploymentName}-autoscale'
// As infra/azureml/capacity.py: an autoscaled deployment that exists keeps its live count within the bounds
// (Azure's analogue of SageMaker's RetainAllVariantProperties); a new or fixed-size one gets instanceCount.
var deploymentCapacity = (autoscaleEnabled && currentInstanceCount > 0) ? min(max(currentInstanceCount, autoscaleMinInstances), autoscaleMaxInstances) : instanceCount

resource workspace 'Microsoft.MachineLearningServices/workspaces@2024-04-01' existing = {
  name: workspaceName
}

resource environmentContainer 'Microsoft.MachineLearningServices/workspaces/environments@2024-04-01' = {
  parent: workspace
  name: environmentName
  properties: {
    description: resourceDescription
    tags: tags
  }
}

resource environmentVersionResource 'Microsoft.MachineLearningServices/workspaces/environments/versions@2024-04-01' = {
  parent: environmentContainer
  name: environmentVersion
  properties: {
    description: resourceDescription
    tags: tags
    image: image
    inferenceConfig: {
      livenessRoute: {
        path: livenessRoute
        port: port
      }
      readinessRoute: {
        path: readinessRoute
        port: port
      }
      scoringRoute: {
        path: scoringRoute
        port: port
      }
    }
  }
}

resource modelContainer 'Microsoft.MachineLearningServices/workspaces/models@2024-04-01' = if (registerModel) {
  parent: workspace
  name: modelName
  properties: {
    description: 'Embedding model folder; mounted under AZUREML_MODEL_DIR.'
    tags: tags
  }
}

resource modelVersionResource 'Microsoft.MachineLearningServices/workspaces/models/versions@2024-04-01' = if (registerModel) {
  parent: modelContainer
  name: modelVersion
  properties: {
    description: 'Embedding model folder; mounted under AZUREML_MODEL_DIR.'
    tags: tags
    modelType: 'custom_model'
    modelUri: registeredModelUri
  }
}

resource endpoint 'Microsoft.MachineLearningServices/workspaces/onlineEndpoints@2024-04-01' = {
  parent: workspace
  name: endpointName
  location: deployLocation
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    description: resourceDescription
    authMode: authMode
    publicNetworkAccess: publicNetworkAccess
    traffic: currentTraffic
  }
}

resource imageRegistry 'Microsoft.ContainerRegistry/registries@2023-07-01' existing = if (!empty(imageRegistryName)) {
  name: empty(imageRegistryName) ? 'unused' : imageRegistryName
}

resource acrPull 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(imageRegistryName)) {
  name: guid(resourceGroup().id, imageRegistryName, endpoint.id, acrPullRoleId)
  scope: imageRegistry
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', acrPullRoleId)
    principalId: endpoint.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

resource onlineDeployment 'Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments@2024-04-01' = {
  parent: endpoint
  name: deploymentName
  location: deployLocation
  tags: tags
  sku: {
    name: 'Default'
    capacity: deploymentCapacity
  }
  properties: {
    endpointComputeType: 'Managed'
    description: resourceDescription
    environmentId: environmentVersionResource.id
    model: empty(deploymentModel) ? null : deploymentModel
    instanceType: instanceType
    scaleSettings: {
      scaleType: 'Default'
    }
    requestSettings: {
      requestTimeout: 'PT${requestTimeoutSeconds}S'
      maxConcurrentRequestsPerInstance: maxConcurrentRequestsPerInstance
    }
    livenessProbe: {
      initialDelay: 'PT${livenessInitialDelay}S'
      period: 'PT${probePeriodSeconds}S'
      timeout: 'PT${probeTimeoutSeconds}S'
      successThreshold: 1
      failureThreshold: 3
    }
    readinessProbe: {
      initialDelay: 'PT10S'
      period: 'PT${probePeriodSeconds}S'
      timeout: 'PT${probeTimeoutSeconds}S'
      successThreshold: 1
      failureThreshold: readinessFailureThreshold
    }
    environmentVariables: environmentVariables
    appInsightsEnabled: appInsightsEnabled
    egressPublicNetworkAccess: empty(egressPublicNetworkAccess) ? null : egressPublicNetworkAccess
  }
  dependsOn: [
    modelVersionResource
    acrPull
  ]
}

// The endpoint resource is declared once per template, so the traffic switch is a nested deployment
// that re-PUTs it with the final traffic after the deployment is healthy.
module endpointTraffic 'traffic.bicep' = {
  name: 'traffic-${endpointName}'
  params: {
    workspaceName: workspaceName
    endpointName: endpointName
    location: deployLocation
    tags: tags
    endpointDescription: resourceDescription
    authMode: authMode
    publicNetworkAccess: publicNetworkAccess
    traffic: finalTraffic
  }
  dependsOn: [
    onlineDeployment
  ]
}

// Azure Monitor autoscale on the deployment (the SDK path writes the same setting, plan.build_autoscale).
// Created after the traffic switch, so a failed rollout leaves no autoscale on it.
resource autoscale 'Microsoft.Insights/autoscalesettings@2022-10-01' = if (autoscaleEnabled) {
  name: autoscaleName
  location: deployLocation
  tags: tags
  properties: {
    name: autoscaleName
    enabled: true
    targetResourceUri: onlineDeployment.id
    profiles: [
      {
        name: 'metric-based'
        capacity: {
          minimum: string(autoscaleMinInstances)
          maximum: string(autoscaleMaxInstances)
          default: string(instanceCount)
        }
        rules: [
          {
            metricTrigger: {
              metricName: autoscaleMetricName
              metricResourceUri: onlineDeployment.id
              timeGrain: 'PT1M'
              statistic: 'Average'
              timeWindow: 'PT${autoscaleWindowSeconds}S'
              timeAggregation: 'Average'
              operator: 'GreaterThan'
              threshold: autoscaleTargetValue
            }
            scaleAction: {
              direction: 'Increase'
              type: 'ChangeCount'
              value: string(autoscaleStep)
              cooldown: 'PT${autoscaleScaleOutCooldownSeconds}S'
            }
          }
          {
            metricTrigger: {
              metricName: autoscaleMetricName
              metricResourceUri: onlineDeployment.id
              timeGrain: 'PT1M'
              statistic: 'Average'
              timeWindow: 'PT${autoscaleWindowSeconds}S'
              timeAggregation: 'Average'
              operator: 'LessThan'
              threshold: autoscaleScaleInThreshold
            }
            scaleAction: {
              direction: 'Decrease'
              type: 'ChangeCount'
              value: string(autoscaleStep)
              cooldown: 'PT${autoscaleScaleInCooldownSeconds}S'
            }
          }
        ]
      }
    ]
  }
  dependsOn: [
    endpointTraffic
  ]
}

output endpointName string = endpoint.name
output deploymentName string = onlineDeployment.name
output environmentId string = environmentVersionResource.id
output scoringUri string = endpointTraffic.outputs.scoringUri
output endpointPrincipalId string = endpoint.identity.principalId
