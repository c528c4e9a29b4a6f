"""macvlan-testbed: settings -> MacvlanTestbed -> stack outputs."""
import pulumi

from components.settings import load_settings
from components.testbed import MacvlanTestbed, MacvlanTestbedArgs, exports

testbed = MacvlanTestbed("testbed", MacvlanTestbedArgs(settings=load_settings()))
for output_name, value in exports(testbed).items():
    pulumi.export(output_name, value)
