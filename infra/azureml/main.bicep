// Azure ML managed online endpoint + deployment for the embedding BYOC image.
// Declarative equivalent of `python -m infra.azureml deploy` (infra/azureml/plan.py builds the same
// REST bodies): environment version with inference_config, optional model version, endpoint,
// deployment (request settings, probes sized for model load), then traffic (traffic.bicep).
//
//   az deployment group create -g <rg> -f infra/azureml/main.bicep -p @infra/azureml/main.parameters.example.json
//
// The workspace must already exist in this resource group. No secrets are parameters here.

metadata description = 'Azure ML managed online endpoint for the Jina/OpenAI-compatible embedding container.'

targetScope = 'resourceGroup'

@description('Existing Azure ML workspace (same resource group).')
param workspaceName string

@description('Region of the workspace.')
param location string = resourceGroup().location

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

@description('Model folder to register (azureml://... or https://... URI); mounted under AZUREML_MODEL_DIR. Empty: no registration.')
param modelUri string = ''
param modelName string = 'embedding-model'
param modelVersion string = '1'

@description('Existing model asset id (ARM id or azureml://registries/...) used when modelUri is empty. Both empty: the image default model.')
param modelId string = ''

@description('VM SKU; needs quota for its family in the region.')
param instanceType string = 'Standard_NC24ads_A100_v4'

@minValue(1)
@maxValue(100)
param instanceCount int = 1

@description('Container contract (container/, inference/settings.py).')
param port int = 8080
param livenessRoute string = '/ping'
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

@description('Traffic already on the endpoint, kept while the new deployment rolls out (blue/green), e.g. {"blue": 100}.')
param currentTraffic object = {}

@description('Traffic once the deployment is healthy; empty: 100% to deploymentName. Shares add up to 100.')
param traffic object = {}

@allowed([
  'Enabled'
  'Disabled'
])
param publicNetworkAccess string = 'Enabled'

@allowed([
  'Enabled'
  'Disabled'
])
param egressPublicNetworkAccess string = 'Enabled'

param appInsightsEnabled bool = false

@description('Container environment (EMB_* settings). Plain text: never put secrets here.')
param environmentVariables object = {}

@description('ACR (same resource group) to grant the endpoint identity AcrPull on; empty when the image is in the workspace registry.')
param imageRegistryName string = ''

param tags object = {
  app: 'jina-embedding-serving'
}

var resourceDescription = 'Jina/OpenAI-compatible embedding service (BYOC image).'
var registerModel = !empty(modelUri)
var registeredModelId = resourceId('Microsoft.MachineLearningServices/workspaces/models/versions', workspaceName, modelName, modelVersion)
var deploymentModel = registerModel ? registeredModelId : modelId
// Same sizing as plan.probe_settings: readiness covers the whole load window; a liveness probe on a
// model-gated route (/ping) starts only after it, so slow loads are not killed but hangs are.
var readinessFailureThreshold = max(3, (modelLoadTimeoutSeconds + probePeriodSeconds - 1) / probePeriodSeconds)
var livenessInitialDelay = (livenessRoute == '/health/live') ? 10 : modelLoadTimeoutSeconds
var finalTraffic = empty(traffic) ? { '${deploymentName}': 100 } : traffic
var acrPullRoleId = '7f951dda-4ed3-4680-a7ca-43fe172d538d'

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
    modelUri: modelUri
  }
}

resource endpoint 'Microsoft.MachineLearningServices/workspaces/onlineEndpoints@2024-04-01' = {
  parent: workspace
  name: endpointName
  location: location
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
  location: location
  tags: tags
  sku: {
    name: 'Default'
    capacity: instanceCount
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
    egressPublicNetworkAccess: egressPublicNetworkAccess
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
    location: location
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

output endpointName string = endpoint.name
output deploymentName string = onlineDeployment.name
output environmentId string = environmentVersionResource.id
output scoringUri string = endpointTraffic.outputs.scoringUri
output endpointPrincipalId string = endpoint.identity.principalId
