// Sets an online endpoint's traffic. Called by main.bicep after the deployment succeeded; a separate
// module because one template cannot declare the same endpoint resource twice.

@description('Existing Azure ML workspace (same resource group).')
param workspaceName string

param endpointName string
param location string
param tags object
param endpointDescription string

@allowed([
  'Key'
  'AMLToken'
  'AADToken'
])
param authMode string

@allowed([
  'Enabled'
  'Disabled'
])
param publicNetworkAccess string

@description('Deployment name -> percent; shares add up to 100.')
param traffic object

resource workspace 'Microsoft.MachineLearningServices/workspaces@2024-04-01' existing = {
  name: workspaceName
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
    description: endpointDescription
    authMode: authMode
    publicNetworkAccess: publicNetworkAccess
    traffic: traffic
  }
}

output scoringUri string = endpoint.properties.scoringUri
