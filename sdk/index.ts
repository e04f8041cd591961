/**
 * The Fieldflow device SDK: connect a device to Fieldflow over MQTT, publish through a durable
 * offline queue that the server de-duplicates, receive configuration and commands, and take OTA
 * updates. See docs/sdk.md.
 */
export { FieldflowDevice } from './device';
export type { FieldflowDeviceOptions, DeviceEvents, DeviceCommand, DeviceConfig, DeviceStats, PublishReceipt, TopicHandler } from './device';
export { OfflineQueue } from './queue';
export type { QueueOptions, QueuedMessage } from './queue';
export { OtaAgent } from './ota-agent';
export type { OtaAgentOptions, OtaAgentEvents, OtaUpdateStats, OtaUpdateState, InstallResult } from './ota-agent';
export { parseOffer } from './ota-offer';
export type { OtaOffer, OfferedArtifact, OtaReport, OtaRejection } from './ota-offer';
export { download } from './download';
export type { DownloadOptions, DownloadResult } from './download';
export { verifyArtifact, verifyManifestSignature, manifestBytes, hashFile } from './verify';
export type { ArtifactManifest } from './verify';
export type { TagValue } from './names';
export * from './errors';
