<?xml version="1.0" encoding="UTF-8"?>
<DTSControl>
  <Version>1.0</Version>
  <AddressType>DTS</AddressType>
  <MessageType>Data</MessageType>
  <From_DTS>LA841HC001</From_DTS>
  <To_DTS>CPISHUB01</To_DTS>
  <Subject>DELTA return</Subject>
  <LocalId>841-2026-11-21-01</LocalId>
  <DTSId>841-2026-11-21-01</DTSId>
  <WorkflowId>CPIS_LA_UPLOAD</WorkflowId>
  <Compress>N</Compress>
  <Encrypted>N</Encrypted>
  <IsCompressed>N</IsCompressed>
</DTSControl>
