/** cluster/: many dyups nodes, one upstream table in etcd (dyups_cluster). Imports config, store, upstream, errors, log. */
export { Cluster, type ClusterHost, type ClusterReport, type ClusterSettings, type NodeRow } from './cluster.js'
export { nodeName } from './node-name.js'
