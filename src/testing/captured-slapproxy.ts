/**
 * What slapproxy answered in the full example of docs/protocol.md §3.6 (captured from a real run):
 * the legacy wire format our codec and our master must reproduce byte for byte.
 */

/** Step 3's answer: `requestComputerPartition` of `MyInstance`. */
export const CAPTURED_REQUEST_ANSWER =
  '<marshal><object id="i2" module="slapos.slap.slap" class="SoftwareInstance"><tuple/><dictionary id="i3"><string>_connection_dict</string><dictionary id="i4"/><string>_instance_guid</string><string>COMP-0-slappart0</string><string>_parameter_dict</string><dictionary id="i5"><string>foo</string><string>bar</string><string>timestamp</string><string>1700000000.25</string></dictionary><string>_requested_state</string><string>started</string><string>connection_xml</string><none/><string>ip_list</string><list id="i6"><tuple><string>slaptap0</string><string>10.0.0.10</string></tuple><tuple><string>slaptap0</string><string>fd00::10</string></tuple></list><string>slap_computer_id</string><string>COMP-0</string><string>slap_computer_partition_id</string><string>slappart0</string><string>slap_server_url</string><string>slap_server_url</string><string>slap_software_release_url</string><string>https://example.com/sr/software.cfg</string><string>slap_software_type</string><string>default</string></dictionary></object></marshal>';

/** Step 4's answer: the shared `MyShared`. */
export const CAPTURED_SHARED_ANSWER =
  '<marshal><object id="i2" module="slapos.slap.slap" class="SoftwareInstance"><tuple/><dictionary id="i3"><string>_connection_dict</string><dictionary id="i4"/><string>_parameter_dict</string><dictionary id="i5"><string>url</string><string>https://backend</string></dictionary><string>ip_list</string><list id="i6"><tuple><string>slaptap0</string><string>10.0.0.10</string></tuple><tuple><string>slaptap0</string><string>fd00::10</string></tuple></list><string>slap_computer_id</string><string>COMP-0</string><string>slap_computer_partition_id</string><string>slappart0</string><string>slap_server_url</string><string>slap_server_url</string><string>slap_software_release_url</string><string>https://example.com/sr/software.cfg</string><string>slap_software_type</string><string>default</string></dictionary></object></marshal>';

/** `getFullComputerInformation?computer_id=COMP-0` after step 5, on one line as sent. */
export const CAPTURED_COMPUTER = `<marshal>
  <object id="i2" module="slapos.slap.slap" class="Computer">
    <tuple><string>COMP-0</string></tuple>
    <dictionary id="i3">
      <string>_computer_id</string><string>COMP-0</string>
      <string>_computer_partition_list</string>
      <list id="i4">
        <object id="i5" module="slapos.slap.slap" class="ComputerPartition">
          <tuple><string>COMP-0</string><string>slappart0</string><none/></tuple>
          <dictionary id="i6">
            <string>_computer_id</string><string>COMP-0</string>
            <string>_connection_dict</string>
            <dictionary id="i7"><string>url</string><string>https://a?x=1&amp;amp;y=2</string></dictionary>
            <string>_instance_guid</string><string>COMP-0-slappart0</string>
            <string>_need_modification</string><int>1</int>
            <string>_parameter_dict</string>
            <dictionary id="i8">
              <string>foo</string><string>bar</string>
              <string>full_address_list</string><list id="i9"/>
              <string>instance_title</string><string>MyInstance</string>
              <string>ip_list</string>
              <list id="i10">
                <tuple><string>slaptap0</string><string>10.0.0.10</string></tuple>
                <tuple><string>slaptap0</string><string>fd00::10</string></tuple>
              </list>
              <string>root_instance_title</string><string>MyInstance</string>
              <string>slap_computer_id</string><string>COMP-0</string>
              <string>slap_computer_partition_id</string><string>slappart0</string>
              <string>slap_software_release_url</string><string>https://example.com/sr/software.cfg</string>
              <string>slap_software_type</string><string>default</string>
              <string>slave_instance_list</string>
              <list id="i11">
                <dictionary id="i12">
                  <string>slap_software_type</string><string>default</string>
                  <string>slave_reference</string><string>_MyShared</string>
                  <string>slave_title</string><string>_MyShared</string>
                  <string>url</string><string>https://backend</string>
                </dictionary>
              </list>
              <string>timestamp</string><string>1700000100.5</string>
            </dictionary>
            <string>_partition_id</string><string>slappart0</string>
            <string>_request_dict</string><none/>
            <string>_requested_state</string><string>started</string>
            <string>_software_release_document</string>
            <object id="i13" module="slapos.slap.slap" class="SoftwareRelease">
              <tuple><string>https://example.com/sr/software.cfg</string><string>COMP-0</string></tuple>
              <dictionary id="i14">
                <string>_computer_guid</string><string>COMP-0</string>
                <string>_software_instance_list</string><list id="i15"/>
                <string>_software_release</string><string>https://example.com/sr/software.cfg</string>
              </dictionary>
            </object>
          </dictionary>
        </object>
        <object id="i16" module="slapos.slap.slap" class="ComputerPartition">
          <tuple><string>COMP-0</string><string>slappart1</string><none/></tuple>
          <dictionary id="i17">
            <string>_computer_id</string><string>COMP-0</string>
            <string>_instance_guid</string><string>COMP-0-slappart1</string>
            <string>_need_modification</string><int>0</int>
            <string>_partition_id</string><string>slappart1</string>
            <string>_request_dict</string><none/>
            <string>_requested_state</string><string>destroyed</string>
            <string>_software_release_document</string><none/>
          </dictionary>
        </object>
      </list>
      <string>_software_release_list</string>
      <list id="i18">
        <object id="i19" module="slapos.slap.slap" class="SoftwareRelease">
          <tuple><string>https://example.com/sr/software.cfg</string><string>COMP-0</string></tuple>
          <dictionary id="i20">
            <string>_computer_guid</string><string>COMP-0</string>
            <string>_requested_state</string><string>available</string>
            <string>_software_instance_list</string><list id="i21"/>
            <string>_software_release</string><string>https://example.com/sr/software.cfg</string>
          </dictionary>
        </object>
      </list>
    </dictionary>
  </object>
</marshal>`.replace(/\n\s*/g, '');
