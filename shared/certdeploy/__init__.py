"""certdeploy: certificate deployment jobs for Alibaba Cloud, CAS 2020-04-07 wire compatible."""
