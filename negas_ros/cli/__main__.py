import sys

from negas_ros.cli import main

sys.exit(main())
